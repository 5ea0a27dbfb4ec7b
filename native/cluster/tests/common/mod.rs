//! Fixtures: a throwaway directory and a small deterministic applier.

#![allow(dead_code)]

pub mod raft;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use valori_cluster::Applier;

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "valori-cluster-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Registers: a command `key=value` sets `key` and answers its previous
/// value; the state is the sorted map, so equal histories give equal bytes.
#[derive(Default, Debug, Clone)]
pub struct Registers {
    pub map: BTreeMap<String, String>,
    pub applied: Vec<u64>,
    /// A slow disk or CPU, injected: each apply takes this many ms longer.
    pub slow_ms: std::sync::Arc<AtomicU64>,
    /// The map as readers see it, published after each apply, readable
    /// without the state machine's lock (as a server's reads would be).
    pub visible: std::sync::Arc<std::sync::Mutex<BTreeMap<String, String>>>,
}

impl Applier for Registers {
    fn apply(&mut self, index: u64, command: &[u8]) -> Vec<u8> {
        let slow = self.slow_ms.load(Ordering::Relaxed);
        if slow > 0 {
            std::thread::sleep(std::time::Duration::from_millis(slow));
        }
        self.applied.push(index);
        let text = String::from_utf8_lossy(command);
        let (k, v) = text.split_once('=').unwrap_or((&text, ""));
        let previous = self.map.insert(k.to_string(), v.to_string());
        *self.visible.lock().unwrap() = self.map.clone();
        previous.unwrap_or_default().into_bytes()
    }

    fn state_bytes(&self) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        for (k, v) in &self.map {
            out.extend_from_slice(format!("{}:{k}{}:{v}", k.len(), v.len()).as_bytes());
        }
        Ok(out)
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), String> {
        let mut map = BTreeMap::new();
        let mut rest = std::str::from_utf8(state).map_err(|e| e.to_string())?;
        let take = |rest: &mut &str| -> Result<String, String> {
            let (n, tail) = rest.split_once(':').ok_or("no length")?;
            let n: usize = n.parse().map_err(|_| "bad length")?;
            if tail.len() < n {
                return Err("short".into());
            }
            let (s, tail) = tail.split_at(n);
            *rest = tail;
            Ok(s.to_string())
        };
        while !rest.is_empty() {
            let k = take(&mut rest)?;
            let v = take(&mut rest)?;
            map.insert(k, v);
        }
        *self.visible.lock().unwrap() = map.clone();
        self.map = map;
        self.applied.clear();
        Ok(())
    }
}
