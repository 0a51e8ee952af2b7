//! Policy documents (IAM, KMS key policies): written as maps in the
//! program, sent as JSON, and compared by meaning, since AWS gives them
//! back URL-encoded, with keys reordered and single-element lists
//! unwrapped.

use serde_json::Value;

/// The document AWS returned, URL-decoded when it was encoded.
pub(crate) fn decode(text: &str) -> Option<Value> {
    serde_json::from_str(text)
        .ok()
        .or_else(|| serde_json::from_str(&percent_decode(text)?).ok())
}

pub(crate) fn to_json(doc: &Value) -> String {
    doc.to_string()
}

/// Do two documents grant the same thing?
pub(crate) fn same(a: &Value, b: &Value) -> bool {
    crate::value::same_document(a, b)
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reordered_and_unwrapped_documents_are_the_same() {
        let written = json!({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::b/*", "arn:aws:s3:::a/*"]}]
        });
        let live = json!({
            "Statement": {"Resource": ["arn:aws:s3:::a/*", "arn:aws:s3:::b/*"], "Action": "s3:GetObject", "Effect": "Allow"},
            "Version": "2012-10-17"
        });
        assert!(same(&written, &live));
        let other = json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}});
        assert!(!same(&written, &other));
    }

    #[test]
    fn url_encoded_documents_decode() {
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D";
        assert_eq!(
            decode(encoded),
            Some(json!({"Version": "2012-10-17", "Statement": []}))
        );
    }
}
