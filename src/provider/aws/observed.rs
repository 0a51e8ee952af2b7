//! `Observed`: builds the args a read gives back, in the shape the program
//! wrote them, so an unchanged resource plans as a no-op.

use serde_json::{Map, Value};

use crate::provider::aws::tags::Tags;

pub(crate) struct Observed<'a> {
    recorded: &'a Value,
    args: Map<String, Value>,
}

impl<'a> Observed<'a> {
    pub(crate) fn new(recorded: &'a Value) -> Self {
        Self {
            recorded,
            args: Map::new(),
        }
    }

    fn was_written(&self, key: &str) -> bool {
        self.recorded.get(key).is_some_and(|v| !v.is_null())
    }

    /// An argument the program must write.
    pub(crate) fn set(&mut self, key: &str, value: impl Into<Value>) -> &mut Self {
        self.args.insert(key.to_string(), value.into());
        self
    }

    /// An optional argument: given back when the program wrote it, or when
    /// the live value differs from what leaving it out means.
    pub(crate) fn optional(
        &mut self,
        key: &str,
        live: impl Into<Value>,
        default: impl Into<Value>,
    ) -> &mut Self {
        let live = live.into();
        if self.was_written(key) || live != default.into() {
            self.args.insert(key.to_string(), live);
        }
        self
    }

    /// An optional argument with no default: given back when known.
    pub(crate) fn maybe(&mut self, key: &str, live: Option<impl Into<Value>>) -> &mut Self {
        if let Some(v) = live {
            self.args.insert(key.to_string(), v.into());
        }
        self
    }

    /// A string the program may write in another spelling AWS normalises
    /// (`all` for `-1`): the written spelling when both mean the same.
    pub(crate) fn spelled(
        &mut self,
        key: &str,
        live: &str,
        normalise: fn(&str) -> String,
    ) -> &mut Self {
        let written = self.recorded.get(key).and_then(Value::as_str);
        let value = match written {
            Some(w) if normalise(w) == normalise(live) => w.to_string(),
            _ => live.to_string(),
        };
        self.args.insert(key.to_string(), Value::String(value));
        self
    }

    /// A list AWS keeps as a set: in the program's order when it has the same
    /// members, else sorted; left out when empty and never written.
    pub(crate) fn set_list(&mut self, key: &str, mut live: Vec<String>) -> &mut Self {
        live.sort();
        if let Some(written) = self.recorded.get(key).and_then(Value::as_array) {
            let mut w: Vec<String> = written
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            let in_order = Value::from(w.clone());
            w.sort();
            if w == live {
                self.args.insert(key.to_string(), in_order);
                return self;
            }
        }
        if !live.is_empty() || self.was_written(key) {
            self.args.insert(key.to_string(), Value::from(live));
        }
        self
    }

    pub(crate) fn tags(&mut self, tags: &Tags) -> &mut Self {
        if !tags.is_empty() || self.was_written("tags") {
            let map: Map<String, Value> = tags
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            self.args.insert("tags".into(), Value::Object(map));
        }
        self
    }

    pub(crate) fn finish(&mut self) -> Map<String, Value> {
        std::mem::take(&mut self.args)
    }
}
