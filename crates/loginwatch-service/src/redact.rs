//! Keeping secrets out of logs: which librdkafka properties are secret, and scrubbing their
//! values out of any text (librdkafka's own log lines included).

use std::fmt;

/// What replaces a secret value wherever it would have been printed.
pub const REDACTED: &str = "[redacted]";

/// Substrings of a property name that make its value secret (`sasl.password`,
/// `ssl.key.pem`, `sasl.oauthbearer.client.secret`, `sasl.jaas.config`, ...).
const SECRET_MARKERS: [&str; 5] = ["password", "secret", "key", "token", "jaas"];

/// True when the value of property `name` must never be printed.
pub fn is_secret_key(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_MARKERS.iter().any(|m| name.contains(m))
}

/// Shows `value` unless `key` names a secret, in which case it shows [`REDACTED`].
pub fn display_value<'a>(key: &str, value: &'a str) -> &'a str {
    if is_secret_key(key) {
        REDACTED
    } else {
        value
    }
}

/// Scrubs known secret values out of free text, e.g. librdkafka log lines, which may quote
/// configuration (`debug=conf`) or a SASL error with the credentials in it.
#[derive(Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// A redactor for the values of every secret property in `props` (name, value).
    pub fn from_properties<'a>(props: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut secrets: Vec<String> = props
            .into_iter()
            .filter(|(k, v)| is_secret_key(k) && !v.is_empty())
            .map(|(_, v)| v.to_owned())
            .collect();
        // Longest first, so a secret that contains another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Redactor { secrets }
    }

    /// `text` with every known secret value replaced by [`REDACTED`].
    pub fn scrub<'a>(&self, text: &'a str) -> std::borrow::Cow<'a, str> {
        if !self.secrets.iter().any(|s| text.contains(s.as_str())) {
            return std::borrow::Cow::Borrowed(text);
        }
        let mut out = text.to_owned();
        for s in &self.secrets {
            out = out.replace(s.as_str(), REDACTED);
        }
        std::borrow::Cow::Owned(out)
    }
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} secrets)", self.secrets.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_keys_are_recognised() {
        for k in [
            "sasl.password",
            "ssl.key.password",
            "ssl.key.pem",
            "sasl.oauthbearer.client.secret",
            "sasl.jaas.config",
            "Some.TOKEN.value",
        ] {
            assert!(is_secret_key(k), "{k}");
        }
        for k in [
            "security.protocol",
            "sasl.username",
            "sasl.mechanism",
            "ssl.ca.location",
        ] {
            assert!(!is_secret_key(k), "{k}");
        }
        assert_eq!(display_value("sasl.password", "hunter2"), REDACTED);
        assert_eq!(display_value("sasl.username", "bob"), "bob");
    }

    #[test]
    fn scrubs_every_secret_value() {
        let r = Redactor::from_properties([
            ("sasl.password", "hunter2"),
            ("sasl.username", "bob"),
            ("ssl.key.password", "hunter2-long"),
            ("sasl.oauthbearer.client.secret", ""),
        ]);
        let line = "SASL auth failed for bob with hunter2-long and hunter2";
        let out = r.scrub(line);
        assert!(!out.contains("hunter2"), "{out}");
        assert!(out.contains("bob"));
        assert_eq!(out.matches(REDACTED).count(), 2);
        assert!(matches!(
            r.scrub("nothing here"),
            std::borrow::Cow::Borrowed(_)
        ));
        assert!(!format!("{r:?}").contains("hunter2"));
    }
}
