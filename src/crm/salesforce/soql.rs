//! SOQL text built from untrusted values (attendee emails).
//!
//! Invariant: every value is placed in a string literal through [`literal`], which escapes the
//! backslash first and then the quote (and the control characters SOQL has escapes for), so no
//! value can end its literal early and change the query.

/// Emails per query: keeps the URL well under Salesforce's limits.
pub const EMAILS_PER_QUERY: usize = 100;

/// The sObjects an attendee can be linked to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Person {
    Contact,
    Lead,
}

impl Person {
    /// The sObject name.
    pub fn object(self) -> &'static str {
        match self {
            Person::Contact => "Contact",
            Person::Lead => "Lead",
        }
    }
}

/// `value` as a SOQL string literal, quotes included.
pub fn literal(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('\'');
    for c in value.chars() {
        match c {
            '\\' => quoted.push_str("\\\\"),
            '\'' => quoted.push_str("\\'"),
            '"' => quoted.push_str("\\\""),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '\t' => quoted.push_str("\\t"),
            '\u{8}' => quoted.push_str("\\b"),
            '\u{c}' => quoted.push_str("\\f"),
            other => quoted.push(other),
        }
    }
    quoted.push('\'');
    quoted
}

/// `SELECT Id, Email FROM User WHERE Email IN ('<email>') AND IsActive = true`: the CRM user
/// who can own an Event.
pub fn active_user_by_email(email: &str) -> String {
    format!(
        "SELECT Id, Email FROM User WHERE Email IN ({}) AND IsActive = true",
        literal(email)
    )
}

/// `SELECT Id, Email FROM <Contact|Lead> WHERE Email IN (...)`, oldest first so the choice
/// among duplicates is stable. Converted leads are left out: an activity cannot name one.
pub fn people_by_email(person: Person, emails: &[String]) -> String {
    let list = emails
        .iter()
        .map(|email| literal(email))
        .collect::<Vec<_>>()
        .join(", ");
    let converted = match person {
        Person::Contact => "",
        Person::Lead => " AND IsConverted = false",
    };
    format!(
        "SELECT Id, Email FROM {} WHERE Email IN ({list}){converted} ORDER BY CreatedDate ASC",
        person.object()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_backslashes_cannot_end_the_literal() {
        assert_eq!(literal("buyer@prospect.com"), "'buyer@prospect.com'");
        assert_eq!(literal("o'brien@x.com"), r"'o\'brien@x.com'");
        // A backslash before a quote must not turn the escaped quote back into a delimiter.
        assert_eq!(literal(r"a\'@x.com"), r"'a\\\'@x.com'");
        assert_eq!(literal(r"a\\'@x.com"), r"'a\\\\\'@x.com'");
        assert_eq!(literal("x') OR Id != ('"), r"'x\') OR Id != (\''");
        assert_eq!(literal("tab\there\nnew"), r"'tab\there\nnew'");
        assert_eq!(literal("say \"hi\""), r#"'say \"hi\"'"#);
    }

    #[test]
    fn every_escaped_literal_reads_back_as_its_value() {
        for value in [
            "o'brien@x.com",
            r"a\'@x.com",
            r"a\\'@x.com",
            r"\",
            "'",
            "x'y\\z\"w",
        ] {
            assert_eq!(unescape(&literal(value)), Some(value.to_owned()), "{value}");
        }
    }

    /// A SOQL literal reader: `None` when the quote ends before the text does.
    fn unescape(text: &str) -> Option<String> {
        let inner = text.strip_prefix('\'')?;
        let mut value = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => value.push(match chars.next()? {
                    'n' => '\n',
                    'r' => '\r',
                    't' => '\t',
                    'b' => '\u{8}',
                    'f' => '\u{c}',
                    other => other,
                }),
                '\'' => return chars.next().is_none().then_some(value),
                other => value.push(other),
            }
        }
        None
    }

    #[test]
    fn queries_list_every_email_escaped() {
        let emails = vec!["a@x.com".to_owned(), "o'brien@x.com".to_owned()];
        assert_eq!(
            people_by_email(Person::Contact, &emails),
            r"SELECT Id, Email FROM Contact WHERE Email IN ('a@x.com', 'o\'brien@x.com') ORDER BY CreatedDate ASC"
        );
        assert_eq!(
            people_by_email(Person::Lead, &emails[..1]),
            "SELECT Id, Email FROM Lead WHERE Email IN ('a@x.com') AND IsConverted = false ORDER BY CreatedDate ASC"
        );
    }
}
