//! Ambiguous JSON is refused, not guessed: an object that names one key
//! twice (`{"kill_id": "a", "kill_id": "b"}`) means whatever the reader
//! happens to keep, so a kill carrying one is invalid input. One pass over
//! the text that allocates nothing for keys without escapes, beyond one
//! list of keys per object: the path of a repeated key is put together
//! only once one is found, on the way back out.

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
    let _ = Walk { found: &found }.deserialize(&mut de);
    found.into_inner().map(|steps: Vec<Step>| {
        let mut path = String::new();
        for step in steps.iter().rev() {
            match step {
                Step::Key(key) if path.is_empty() => path.push_str(key),
                Step::Key(key) => {
                    path.push('.');
                    path.push_str(key);
                }
                Step::Index(i) => path.push_str(&format!("[{i}]")),
            }
        }
        path
    })
}

/// One step of the path to the repeated key.
enum Step {
    Key(String),
    Index(usize),
}

/// Walks one JSON value. When it finds a repeated key it notes it and
/// fails; each enclosing value then adds its own step to the note, so the
/// steps run from the repeated key out to the top.
struct Walk<'f> {
    found: &'f RefCell<Option<Vec<Step>>>,
}

impl Walk<'_> {
    /// Adds `step` to the path of a repeated key found inside it (nothing
    /// when the walk failed on text that is not JSON).
    fn within(&self, step: impl FnOnce() -> Step) {
        if let Some(steps) = self.found.borrow_mut().as_mut() {
            steps.push(step());
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
                *self.found.borrow_mut() = Some(vec![Step::Key(key.into_owned())]);
                return Err(de::Error::custom("duplicate key"));
            }
            if let Err(e) = map.next_value_seed(Walk { found: self.found }) {
                self.within(|| Step::Key(key.into_owned()));
                return Err(e);
            }
            keys.push(key);
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0usize;
        loop {
            match seq.next_element_seed(Walk { found: self.found }) {
                Ok(Some(())) => i += 1,
                Ok(None) => return Ok(()),
                Err(e) => {
                    self.within(|| Step::Index(i));
                    return Err(e);
                }
            }
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
        // Not JSON: nothing to say here, however deep the error.
        assert_eq!(duplicate_key("{not json"), None);
        assert_eq!(duplicate_key(r#"{"a":[{"b":1,}]}"#), None);
        // Paths through arrays in arrays and objects in arrays, and a key
        // repeated after a nested value that held none.
        assert_eq!(
            duplicate_key(r#"{"a":[[1],[2,{"x":{"y":1},"x":2}]]}"#).as_deref(),
            Some("a[1][1].x")
        );
        assert_eq!(
            duplicate_key(r#"{"a":{"b":[1,2]},"c":{"d":{"e":1,"f":{"g":[{"h":1,"h":1}]}}}}"#)
                .as_deref(),
            Some("c.d.f.g[0].h")
        );
        assert_eq!(
            duplicate_key(r#"[[],[],[{"\u0061":1,"a":2}]]"#).as_deref(),
            Some("[2][0].a")
        );
    }
}
