//! The one rule of every HTTP body, applied by the body parser rather than
//! by each type: where a type expects an object (a struct or a map), any
//! other JSON value is refused, and so is a key the struct does not name.
//! serde alone lets a struct be read from an array by position, so
//! `"pickup": [28.04, -26.20]` would silently become `lat 28.04, lng -26.20`.
//!
//! The body is first read into a [`JsonTree`] (a `serde_json::Value` that
//! refuses duplicate keys), then the target type is read from that tree by
//! [`Strict`], a deserializer that only hands objects to struct visitors.

use serde::de::{
    self, DeserializeSeed, Deserializer, Error as _, IntoDeserializer, MapAccess, SeqAccess, Unexpected, Visitor,
};
use serde::forward_to_deserialize_any;
use serde_json::{Map, Value};
use std::fmt;

type Error = serde_json::Error;

/// A JSON document as sent, refused when an object repeats a key (a
/// client's two `pickup`s must not be settled by whichever came last).
pub struct JsonTree(pub Value);

impl<'de> de::Deserialize<'de> for JsonTree {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TreeVisitor).map(JsonTree)
    }
}

struct TreeVisitor;

impl<'de> Visitor<'de> for TreeVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v).map(Value::Number).ok_or_else(|| E::custom("numbers must be finite"))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(JsonTree(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(A::Error::custom(format_args!("duplicate field `{key}`")));
            }
            let JsonTree(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// Reads a type from a [`JsonTree`]'s value, objects only where the type
/// wants an object, and only the keys a struct names.
pub struct Strict(pub Value);

impl<'de> Deserializer<'de> for Strict {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Array(items) => visitor.visit_seq(StrictSeq(items.into_iter())),
            Value::Object(map) => visitor.visit_map(StrictMap::new(map, None)),
            other => other.deserialize_any(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            value => visitor.visit_some(Strict(value)),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.0 {
            Value::Object(map) => visitor.visit_map(StrictMap::new(map, Some(fields))),
            other => Err(Error::invalid_type(unexpected(&other), &"an object")),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Object(map) => visitor.visit_map(StrictMap::new(map, None)),
            other => Err(Error::invalid_type(unexpected(&other), &"an object")),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        // Enums in bodies are unit variants (plain strings); their value is read as is.
        self.0.deserialize_enum(name, variants, visitor)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct identifier ignored_any
    }
}

/// What a value is, for "invalid type: X, expected an object".
fn unexpected(value: &Value) -> Unexpected<'_> {
    match value {
        Value::Null => Unexpected::Unit,
        Value::Bool(b) => Unexpected::Bool(*b),
        Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => Unexpected::Unsigned(u),
            (_, Some(i), _) => Unexpected::Signed(i),
            (_, _, f) => Unexpected::Float(f.unwrap_or(f64::NAN)),
        },
        Value::String(s) => Unexpected::Str(s),
        Value::Array(_) => Unexpected::Seq,
        Value::Object(_) => Unexpected::Map,
    }
}

struct StrictSeq(std::vec::IntoIter<Value>);

impl<'de> SeqAccess<'de> for StrictSeq {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, Error> {
        self.0.next().map(|value| seed.deserialize(Strict(value))).transpose()
    }
}

struct StrictMap {
    entries: serde_json::map::IntoIter,
    /// The keys a struct names; `None` for a map, which takes any key.
    fields: Option<&'static [&'static str]>,
    value: Option<Value>,
}

impl StrictMap {
    fn new(map: Map<String, Value>, fields: Option<&'static [&'static str]>) -> Self {
        StrictMap { entries: map.into_iter(), fields, value: None }
    }
}

impl<'de> MapAccess<'de> for StrictMap {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Error> {
        let Some((key, value)) = self.entries.next() else { return Ok(None) };
        if let Some(fields) = self.fields {
            if !fields.contains(&key.as_str()) {
                return Err(Error::unknown_field(&key, fields));
            }
        }
        self.value = Some(value);
        seed.deserialize(key.into_deserializer()).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let value = self.value.take().ok_or_else(|| Error::custom("a value was asked for before its key"))?;
        seed.deserialize(Strict(value))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::invalid::parse_json;

    /// A type that asks for nothing: the parser alone holds it to the rule.
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Lenient {
        at: Point,
        #[serde(default)]
        tags: Vec<String>,
        #[serde(default)]
        extra: Option<BTreeMap<String, u32>>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Point {
        x: f64,
        y: f64,
    }

    fn err(body: &str) -> String {
        parse_json::<Lenient>(body.as_bytes()).unwrap_err().0
    }

    #[test]
    fn a_struct_is_read_from_an_object_only_whatever_its_type_declares() {
        assert_eq!(err(r#"{"at":[1,2]}"#), "at: invalid type: sequence, expected an object");
        assert_eq!(err(r#"{"at":"1,2"}"#), "at: invalid type: string \"1,2\", expected an object");
        assert_eq!(err(r#"{"at":null}"#), "at: invalid type: null, expected an object");
        assert!(err("[[1,2]]").starts_with("body: invalid type: sequence"));
    }

    #[test]
    fn unknown_fields_are_refused_even_without_deny_unknown_fields() {
        assert!(err(r#"{"at":{"x":1,"y":2},"colour":1}"#).starts_with("body: unknown field `colour`"));
        assert!(err(r#"{"at":{"x":1,"y":2,"z":3}}"#).starts_with("at: unknown field `z`"));
    }

    #[test]
    fn lists_stay_lists_and_maps_take_any_key() {
        let ok = parse_json::<Lenient>(br#"{"at":{"x":1,"y":2},"tags":["a"],"extra":{"any":1}}"#).unwrap();
        assert_eq!((ok.tags.len(), ok.extra.map(|m| m.len())), (1, Some(1)));
        assert!(err(r#"{"at":{"x":1,"y":2},"extra":[1]}"#).starts_with("extra: invalid type: sequence"));
    }

    #[test]
    fn numbers_keep_their_exact_value_and_huge_ones_are_refused_by_path() {
        let ok = parse_json::<Lenient>(br#"{"at":{"x":-26.2041,"y":28.0473123456789}}"#).unwrap();
        assert_eq!((ok.at.x, ok.at.y), (-26.2041, 28.047_312_345_678_9));
        assert!(err(r#"{"at":{"x":1e400,"y":2}}"#).starts_with("at.x: "));
    }
}
