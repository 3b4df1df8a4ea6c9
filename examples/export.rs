//! Writes the examples' contract for other languages: `cargo run --example export -- DIR`
//! creates DIR (if needed) and writes `DIR/openrpc.json` (the OpenRPC document of `App`, with
//! `Callbacks` under `x-echorpc-callbacks`) and `DIR/services.ts` (`AppClient`, `registerApp`,
//! `CallbacksClient`, `registerCallbacks` and the types, for the TypeScript `echorpc` package).

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let (Some(dir), None) = (args.next(), args.next()) else {
        eprintln!("usage: cargo run --example export -- DIR");
        return ExitCode::from(2);
    };
    let dir = PathBuf::from(dir);
    let api = echorpc_examples::contract::api();
    let openrpc = match serde_json::to_string_pretty(&api.openrpc()) {
        Ok(text) => text + "\n",
        Err(err) => {
            eprintln!("export: cannot encode the OpenRPC document: {err}");
            return ExitCode::FAILURE;
        }
    };
    let files = [
        (dir.join("openrpc.json"), openrpc),
        (dir.join("services.ts"), api.typescript()),
    ];
    if let Err(err) = std::fs::create_dir_all(&dir) {
        eprintln!("export: cannot create {}: {err}", dir.display());
        return ExitCode::FAILURE;
    }
    for (path, text) in files {
        if let Err(err) = std::fs::write(&path, text) {
            eprintln!("export: cannot write {}: {err}", path.display());
            return ExitCode::FAILURE;
        }
        println!("wrote {}", path.display());
    }
    ExitCode::SUCCESS
}
