//! Ambiguous JSON is refused, not guessed: an object that names one key
//! twice (`{"kill_id": "a", "kill_id": "b"}`) means whatever the reader
//! happens to keep, so a kill carrying one is invalid input. One pass over
//! the text, allocating nothing for keys without escapes.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// The path of the first key that appears twice in one object of `text`
/// (`payload.metadata.region`, `[2].kill_id`), if any. Text that is not
/// JSON has none: reading it fails later with its own error.
pub fn duplicate_key(text: &str) -> Option<String> {
    let found = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_str(text);
    let _ = Walk {
        path: "",
        found: &found,
    }
    .deserialize(&mut de);
    found.into_inner()
}

/// Walks one JSON value at `path`, noting the first repeated key.
struct Walk<'p> {
    path: &'p str,
    found: &'p RefCell<Option<String>>,
}

impl Walk<'_> {
    fn child(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else if key.starts_with('[') {
            format!("{}{key}", self.path)
        } else {
            format!("{}.{key}", self.path)
        }
    }
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("JSON")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut keys: Vec<Cow<'de, str>> = Vec::new();
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if keys.contains(&key) {
                *self.found.borrow_mut() = Some(self.child(&key));
                return Err(de::Error::custom("duplicate key"));
            }
            let path = self.child(&key);
            map.next_value_seed(Walk {
                path: &path,
                found: self.found,
            })?;
            keys.push(key);
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0usize;
        loop {
            let path = self.child(&format!("[{i}]"));
            let walk = Walk {
                path: &path,
                found: self.found,
            };
            if seq.next_element_seed(walk)?.is_none() {
                return Ok(());
            }
            i += 1;
        }
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_twice_in_any_object_is_found_with_its_path() {
        assert_eq!(duplicate_key(r#"{"a":1,"b":2}"#), None);
        assert_eq!(
            duplicate_key(r#"{"kill_id":"a","kill_id":"b"}"#).as_deref(),
            Some("kill_id")
        );
        assert_eq!(
            duplicate_key(r#"{"payload":{"metadata":{"r":"x","r":"y"}}}"#).as_deref(),
            Some("payload.metadata.r")
        );
        assert_eq!(
            duplicate_key(r#"[{"k":1},{"k":1,"k":2}]"#).as_deref(),
            Some("[1].k")
        );
        // The same key in different objects is no ambiguity; an escaped
        // key is compared as what it means.
        assert_eq!(duplicate_key(r#"[{"k":1},{"k":2}]"#), None);
        assert_eq!(duplicate_key(r#"{"k":1,"\u006b":2}"#).as_deref(), Some("k"));
        // Not JSON: nothing to say here.
        assert_eq!(duplicate_key("{not json"), None);
    }
}
