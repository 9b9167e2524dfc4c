//! Strict JSON bodies with errors that name the field and the reason.
//!
//! axum's `Json` extractor answers bad bodies with plain text and 422. Here a
//! body is parsed into its raw fields first, so each field is checked on its
//! own: missing, wrong type, or (for money) more than two decimals of value —
//! decided on the number's exact text, never through a float.

use super::error::ApiError;
use axum::http::{header, HeaderMap, StatusCode};
use domain::Money;
use serde_json::value::RawValue;
use std::collections::HashMap;

pub struct JsonBody {
    fields: HashMap<String, Box<RawValue>>,
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
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed_json",
                "the body is empty; send a JSON object",
            ));
        }
        let value: Box<RawValue> = serde_json::from_slice(body).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed_json",
                format!("the body is not valid JSON: {e}"),
            )
        })?;
        let fields: HashMap<String, Box<RawValue>> =
            serde_json::from_str(value.get()).map_err(|_| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "malformed_json",
                    "the body must be a JSON object",
                )
            })?;
        Ok(JsonBody { fields })
    }

    fn raw(&self, field: &str) -> Option<&str> {
        self.fields
            .get(field)
            .map(|v| v.get().trim())
            .filter(|v| *v != "null")
    }

    fn required(&self, field: &str) -> Result<&str, ApiError> {
        self.raw(field)
            .ok_or_else(|| ApiError::invalid(field, "is required"))
    }

    pub fn string(&self, field: &str) -> Result<String, ApiError> {
        let raw = self.required(field)?;
        serde_json::from_str::<String>(raw)
            .map_err(|_| ApiError::invalid(field, "must be a string"))
    }

    /// An amount in currency units, as a JSON number: `19.99`.
    pub fn money(&self, field: &str) -> Result<Money, ApiError> {
        let raw = self.required(field)?;
        if !raw.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
            return Err(ApiError::invalid(field, "must be a number, such as 19.99"));
        }
        Money::parse(raw).map_err(|e| ApiError::invalid(field, e.to_string()))
    }

    /// A whole number ≥ 0.
    pub fn count(&self, field: &str) -> Result<u32, ApiError> {
        let raw = self.required(field)?;
        let number: serde_json::Number = serde_json::from_str(raw)
            .map_err(|_| ApiError::invalid(field, "must be a whole number"))?;
        if let Some(n) = number.as_u64() {
            return u32::try_from(n).map_err(|_| ApiError::invalid(field, "is too large"));
        }
        if number.as_i64().is_some() || number.as_f64().is_some_and(|f| f < 0.0) {
            return Err(ApiError::invalid(field, "must not be negative"));
        }
        Err(ApiError::invalid(field, "must be a whole number"))
    }

    pub fn optional_version(&self, field: &str) -> Result<Option<u64>, ApiError> {
        match self.raw(field) {
            None => Ok(None),
            Some(raw) => serde_json::from_str::<u64>(raw)
                .map(Some)
                .map_err(|_| ApiError::invalid(field, "must be a version number (1, 2, …)")),
        }
    }

    pub fn optional_bool(&self, field: &str) -> Result<bool, ApiError> {
        match self.raw(field) {
            None => Ok(false),
            Some(raw) => serde_json::from_str::<bool>(raw)
                .map_err(|_| ApiError::invalid(field, "must be true or false")),
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
    fn negative_money_is_refused_exactly() {
        let b = body(r#"{"price":-5}"#).unwrap();
        assert_eq!(field_error(b.money("price")).1, "must not be negative");
    }
}
