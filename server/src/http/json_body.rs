//! Strict JSON bodies with errors that name the field and the reason.
//!
//! axum's `Json` extractor answers bad bodies with plain text and 422. Here a
//! body is parsed into its raw fields first, so each field is checked on its
//! own: missing, wrong type, unknown, or (for money) more than two decimals
//! of value — decided on the number's exact text, never through a float.
//! Nested objects (`items[0].quantity`) are named by their path.

use super::error::ApiError;
use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, StatusCode};
use domain::Money;
use serde_json::value::RawValue;
use std::collections::HashMap;

/// The largest request body the API reads (a big order is a few KiB).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Reads the whole body, refusing more than [`MAX_BODY_BYTES`] with a JSON 413.
pub async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the body may be at most {MAX_BODY_BYTES} bytes"),
            )
        })
}

pub struct JsonBody {
    /// `""` for the body, `"items[0]."` for a nested object.
    prefix: String,
    fields: HashMap<String, Box<RawValue>>,
}

fn malformed(reason: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", reason)
}

impl JsonBody {
    pub fn parse(headers: &HeaderMap, body: &[u8]) -> Result<JsonBody, ApiError> {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !content_type
            .split(';')
            .next()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
        {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        Self::parse_bytes(body)
    }

    /// A body that may be absent (`POST /api/orders/{id}/confirm`): empty
    /// means `{}`; anything else must be JSON.
    pub fn parse_optional(headers: &HeaderMap, body: &[u8]) -> Result<JsonBody, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonBody {
                prefix: String::new(),
                fields: HashMap::new(),
            });
        }
        Self::parse(headers, body)
    }

    fn parse_bytes(body: &[u8]) -> Result<JsonBody, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(malformed("the body is empty; send a JSON object"));
        }
        if std::str::from_utf8(body).is_err() {
            return Err(malformed("the body is not valid UTF-8"));
        }
        let value: Box<RawValue> = serde_json::from_slice(body)
            .map_err(|e| malformed(format!("the body is not valid JSON: {e}")))?;
        Self::object("", &value).map_err(|_| malformed("the body must be a JSON object"))
    }

    fn object(prefix: &str, raw: &RawValue) -> Result<JsonBody, serde_json::Error> {
        let fields: HashMap<String, Box<RawValue>> = serde_json::from_str(raw.get())?;
        Ok(JsonBody {
            prefix: prefix.to_owned(),
            fields,
        })
    }

    fn name(&self, field: &str) -> String {
        format!("{}{field}", self.prefix)
    }

    fn invalid(&self, field: &str, reason: impl Into<String>) -> ApiError {
        ApiError::invalid(&self.name(field), reason)
    }

    /// Refuses fields this request does not have (a typo must not be
    /// silently ignored). `ignored` are accepted and not read.
    pub fn only(&self, known: &[&str], ignored: &[&str]) -> Result<(), ApiError> {
        let mut unknown: Vec<&String> = self
            .fields
            .keys()
            .filter(|k| !known.contains(&k.as_str()) && !ignored.contains(&k.as_str()))
            .collect();
        unknown.sort();
        match unknown.first() {
            None => Ok(()),
            Some(field) => Err(self.invalid(
                field,
                format!(
                    "is not a field of this request (expected: {})",
                    known.join(", ")
                ),
            )),
        }
    }

    pub fn has(&self, field: &str) -> bool {
        self.raw(field).is_some()
    }

    fn raw(&self, field: &str) -> Option<&str> {
        self.fields
            .get(field)
            .map(|v| v.get().trim())
            .filter(|v| *v != "null")
    }

    fn required(&self, field: &str) -> Result<&str, ApiError> {
        self.raw(field)
            .ok_or_else(|| self.invalid(field, "is required"))
    }

    pub fn string(&self, field: &str) -> Result<String, ApiError> {
        let raw = self.required(field)?;
        serde_json::from_str::<String>(raw).map_err(|_| self.invalid(field, "must be a string"))
    }

    pub fn optional_string(&self, field: &str) -> Result<Option<String>, ApiError> {
        match self.raw(field) {
            None => Ok(None),
            Some(_) => self.string(field).map(Some),
        }
    }

    /// `null` or absent → `None`, a string → `Some`; tells "leave it" from
    /// "remove it" only through [`JsonBody::present`].
    pub fn present(&self, field: &str) -> bool {
        self.fields.contains_key(field)
    }

    pub fn optional_strings(&self, field: &str) -> Result<Option<Vec<String>>, ApiError> {
        match self.raw(field) {
            None => Ok(None),
            Some(raw) => serde_json::from_str::<Vec<String>>(raw)
                .map(Some)
                .map_err(|_| self.invalid(field, "must be a list of strings")),
        }
    }

    /// An amount in currency units, as a JSON number: `19.99`.
    pub fn money(&self, field: &str) -> Result<Money, ApiError> {
        let raw = self.required(field)?;
        if !raw.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
            return Err(self.invalid(field, "must be a number, such as 19.99"));
        }
        Money::parse(raw).map_err(|e| self.invalid(field, e.to_string()))
    }

    /// A whole number ≥ 0.
    pub fn count(&self, field: &str) -> Result<u32, ApiError> {
        let n = self.integer(field)?;
        if n < 0 {
            return Err(self.invalid(field, "must not be negative"));
        }
        u32::try_from(n).map_err(|_| self.invalid(field, "is too large"))
    }

    /// Any whole number (the rules decide its range, and say why).
    pub fn integer(&self, field: &str) -> Result<i64, ApiError> {
        let raw = self.required(field)?;
        let number: serde_json::Number =
            serde_json::from_str(raw).map_err(|_| self.invalid(field, "must be a whole number"))?;
        if let Some(n) = number.as_i64() {
            return Ok(n);
        }
        if number.as_u64().is_some() {
            return Err(self.invalid(field, "is too large"));
        }
        // 2.0 is a whole number written as a decimal; 2.5, 1e30 are not.
        match number.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(f as i64),
            Some(f) if f.fract() == 0.0 => Err(self.invalid(field, "is too large")),
            _ => Err(self.invalid(field, "must be a whole number")),
        }
    }

    pub fn optional_version(&self, field: &str) -> Result<Option<u64>, ApiError> {
        match self.raw(field) {
            None => Ok(None),
            Some(raw) => serde_json::from_str::<u64>(raw)
                .map(Some)
                .map_err(|_| self.invalid(field, "must be a version number (1, 2, …)")),
        }
    }

    pub fn optional_bool(&self, field: &str) -> Result<bool, ApiError> {
        match self.raw(field) {
            None => Ok(false),
            Some(raw) => serde_json::from_str::<bool>(raw)
                .map_err(|_| self.invalid(field, "must be true or false")),
        }
    }

    /// A list of objects, each parsed with its path as prefix (`items[2].`).
    pub fn objects(&self, field: &str) -> Result<Vec<JsonBody>, ApiError> {
        let raw = self.required(field)?;
        let list: Vec<Box<RawValue>> = serde_json::from_str(raw)
            .map_err(|_| self.invalid(field, "must be a list of objects"))?;
        list.iter()
            .enumerate()
            .map(|(i, item)| {
                let prefix = format!("{}[{i}].", self.name(field));
                JsonBody::object(&prefix, item).map_err(|_| {
                    ApiError::invalid(&format!("{}[{i}]", self.name(field)), "must be an object")
                })
            })
            .collect()
    }

    pub fn optional_objects(&self, field: &str) -> Result<Option<Vec<JsonBody>>, ApiError> {
        match self.raw(field) {
            None => Ok(None),
            Some(_) => self.objects(field).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(text: &str) -> Result<JsonBody, ApiError> {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
        JsonBody::parse(&headers, text.as_bytes())
    }

    fn field_error(r: Result<impl Sized, ApiError>) -> (Option<String>, String) {
        match r {
            Err(e) => (e.field, e.reason),
            Ok(_) => panic!("expected an error"),
        }
    }

    #[test]
    fn reads_the_reference_body() {
        let b =
            body(r#"{"name":"Laptop","category":"Electronics","price":50000,"stock":10}"#).unwrap();
        assert_eq!(b.string("name").unwrap(), "Laptop");
        assert_eq!(b.money("price").unwrap(), Money::from_minor(5_000_000));
        assert_eq!(b.count("stock").unwrap(), 10);
    }

    #[test]
    fn names_the_field_and_reason() {
        let b = body(r#"{"name":7,"price":"12","stock":-1,"p2":19.999,"s2":1.5}"#).unwrap();
        assert_eq!(
            field_error(b.string("name")),
            (Some("name".into()), "must be a string".into())
        );
        assert_eq!(
            field_error(b.string("category")),
            (Some("category".into()), "is required".into())
        );
        assert_eq!(
            field_error(b.money("price")).1,
            "must be a number, such as 19.99"
        );
        assert_eq!(field_error(b.count("stock")).1, "must not be negative");
        assert_eq!(
            field_error(b.money("p2")).1,
            "has more than two decimal places"
        );
        assert_eq!(field_error(b.count("s2")).1, "must be a whole number");
    }

    #[test]
    fn refuses_malformed_and_non_object_bodies() {
        assert_eq!(body("{").err().unwrap().error, "malformed_json");
        assert_eq!(body("[1]").err().unwrap().error, "malformed_json");
        assert_eq!(body("").err().unwrap().error, "malformed_json");
        let err = JsonBody::parse(&HeaderMap::new(), b"{}").err().unwrap();
        assert_eq!(err.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }

    #[test]
    fn nested_objects_and_unknown_fields_are_named_by_path() {
        let b = body(r#"{"items":[{"productId":"x","quantity":2},{"productId":"y","quantity":1.5,"colour":"red"}]}"#).unwrap();
        let items = b.objects("items").unwrap();
        assert_eq!(items[0].integer("quantity").unwrap(), 2);
        assert_eq!(
            field_error(items[1].integer("quantity")).0,
            Some("items[1].quantity".into())
        );
        assert_eq!(
            field_error(items[1].only(&["productId", "quantity"], &[])).0,
            Some("items[1].colour".into())
        );
        assert!(items[1]
            .only(&["productId", "quantity"], &["colour"])
            .is_ok());
        let b = body(r#"{"q":1e30,"w":2.0,"x":-3}"#).unwrap();
        assert_eq!(field_error(b.integer("q")).1, "is too large");
        assert_eq!(b.integer("w").unwrap(), 2);
        assert_eq!(b.integer("x").unwrap(), -3);
    }

    #[test]
    fn refuses_invalid_utf8() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
        let err = JsonBody::parse(&headers, b"{\"name\":\"\xff\"}")
            .err()
            .unwrap();
        assert_eq!(err.reason, "the body is not valid UTF-8");
    }

    #[test]
    fn negative_money_is_refused_exactly() {
        let b = body(r#"{"price":-5}"#).unwrap();
        assert_eq!(field_error(b.money("price")).1, "must not be negative");
    }
}
