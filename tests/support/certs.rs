//! Certificates generated at test time (rcgen): a root CA, an intermediate CA and a leaf for
//! `127.0.0.1` and `localhost`, written as PEM files in a fresh temporary directory.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};

/// A CA chain and a server certificate, as PEM text and as files.
#[derive(Debug)]
pub struct TestPki {
    /// The root CA certificate (what clients trust).
    pub root_pem: String,
    /// The leaf followed by the intermediate: what the server sends.
    pub chain_pem: String,
    /// The leaf's private key.
    pub key_pem: String,
    /// Directory holding `root.pem`, `chain.pem` and `key.pem`.
    pub dir: PathBuf,
}

impl TestPki {
    pub fn root_file(&self) -> PathBuf {
        self.dir.join("root.pem")
    }
    pub fn chain_file(&self) -> PathBuf {
        self.dir.join("chain.pem")
    }
    pub fn key_file(&self) -> PathBuf {
        self.dir.join("key.pem")
    }
}

impl Drop for TestPki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params
}

/// A fresh temporary directory under the target's tmp dir.
pub fn temp_dir(what: &str) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "echorpc-{what}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// Root → intermediate → leaf for `names` (IP addresses become IP-address names).
pub fn pki_for(names: &[&str]) -> TestPki {
    let root_key = KeyPair::generate().expect("root key");
    let root = ca_params("echorpc test root")
        .self_signed(&root_key)
        .expect("root cert");
    let mid_key = KeyPair::generate().expect("intermediate key");
    let mid = ca_params("echorpc test intermediate")
        .signed_by(&mid_key, &root, &root_key)
        .expect("intermediate cert");
    let leaf_key = KeyPair::generate().expect("leaf key");
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let mut leaf_params = CertificateParams::new(names).expect("leaf params");
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "echorpc test server");
    let leaf = leaf_params
        .signed_by(&leaf_key, &mid, &mid_key)
        .expect("leaf cert");
    let pki = TestPki {
        root_pem: root.pem(),
        chain_pem: format!("{}{}", leaf.pem(), mid.pem()),
        key_pem: leaf_key.serialize_pem(),
        dir: temp_dir("pki"),
    };
    write(&pki.root_file(), &pki.root_pem);
    write(&pki.chain_file(), &pki.chain_pem);
    write(&pki.key_file(), &pki.key_pem);
    pki
}

/// Certificates for `127.0.0.1` and `localhost`.
pub fn local_pki() -> TestPki {
    pki_for(&["127.0.0.1", "localhost"])
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write PEM file");
}
