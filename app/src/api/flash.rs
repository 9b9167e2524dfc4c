//! A message for the next page, for forms posted without JavaScript. Such a
//! post is answered with a redirect (to the page it came from, unless the
//! server function chose another), so a refusal would be lost; it is left in
//! a short-lived cookie instead, and the page that shows it removes it.
//! With JavaScript the page shows the server function's answer itself.

use super::server;

pub const FLASH_COOKIE: &str = "vitrine_flash";
const MAX_CHARS: usize = 500;

/// Leaves `message` for the next page, if this is a plain form post.
pub fn leave(message: &str) {
    if server::is_plain_form_post() {
        let message: String = message.chars().take(MAX_CHARS).collect();
        server::set_shop_cookie(FLASH_COOKIE, &encode(&message), 60);
    }
}

/// The message left for this page, if any; removes it.
pub fn take() -> Option<String> {
    let value = server::request_cookie(FLASH_COOKIE)?;
    server::set_shop_cookie(FLASH_COOKIE, "", 0);
    decode(&value).filter(|m| !m.is_empty())
}

/// Percent-encodes everything but unreserved characters (RFC 3986), so the
/// value holds only cookie-octets.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = value.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let text = String::from_utf8(out).ok()?;
    Some(text.chars().take(MAX_CHARS).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_survive_the_cookie_and_garbage_does_not() {
        let message = "Only 3 of “Lamp” left; your cart has 5 (100% sure).";
        let value = encode(message);
        assert!(value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.~%".contains(&b)));
        assert_eq!(decode(&value).as_deref(), Some(message));
        assert_eq!(decode("%E2%80"), None);
        assert_eq!(decode("%4"), None);
        assert_eq!(decode("%zz"), None);
        assert_eq!(decode(&"a".repeat(900)).map(|m| m.len()), Some(MAX_CHARS));
    }
}
