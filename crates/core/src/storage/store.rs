//! Storage with no HTTP semantics: records (an entry's meta, or a URL's variant index) and
//! bodies under string keys. The worker shell stores in the Workers Cache API and the memory
//! tier; [`MemoryStore`] is the in-memory implementation the native tests use.

use std::collections::HashMap;
use std::rc::Rc;

use crate::storage::meta::{Meta, VaryIndex};

/// What is kept under one key.
#[derive(Debug, Clone)]
pub enum Record {
    Entry(Box<Meta>),
    Index(VaryIndex),
}

/// A key → (record, body) store. Bodies are shared (`Rc`), so a lookup never copies one.
pub trait Store {
    fn get(&self, key: &str) -> Option<(Record, Rc<[u8]>)>;
    fn put(&mut self, key: &str, record: Record, body: Rc<[u8]>);
    /// True when something was removed.
    fn delete(&mut self, key: &str) -> bool;
}

/// A store held in a `HashMap`.
#[derive(Debug, Default)]
pub struct MemoryStore {
    map: HashMap<String, (Record, Rc<[u8]>)>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.map.keys().map(String::as_str)
    }
}

impl Store for MemoryStore {
    fn get(&self, key: &str) -> Option<(Record, Rc<[u8]>)> {
        self.map.get(key).map(|(record, body)| (record.clone(), Rc::clone(body)))
    }

    fn put(&mut self, key: &str, record: Record, body: Rc<[u8]>) {
        self.map.insert(key.to_string(), (record, body));
    }

    fn delete(&mut self, key: &str) -> bool {
        self.map.remove(key).is_some()
    }
}
