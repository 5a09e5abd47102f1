//! Arbitrary JSON that looks enough like Nylas payloads to get past the first field: objects
//! whose keys are mostly the names the parsers read, with values of every type, extreme numbers,
//! odd strings and HTML fragments (descriptions are rendered from HTML).

use proptest::prelude::*;
use serde_json::{Map, Number, Value};

/// A string that stresses parsers: empty, blank, huge-looking numbers, control characters,
/// long, non-ASCII, HTML, or arbitrary.
pub fn odd_string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("   ".to_owned()),
        Just("0".to_owned()),
        Just("-1".to_owned()),
        Just("1.5e300".to_owned()),
        Just("9223372036854775808".to_owned()),
        Just("-9223372036854775809".to_owned()),
        Just("NaN".to_owned()),
        Just("1781000000".to_owned()),
        Just("Europe/Berlin".to_owned()),
        Just("Not/AZone".to_owned()),
        Just("2026-07-01".to_owned()),
        Just("2026-02-30".to_owned()),
        Just("-009999-01-01".to_owned()),
        Just("a\u{0}b\r\n\u{1b}[31m".to_owned()),
        Just("\u{202e}evil\u{feff}".to_owned()),
        "[a-z]{0,3}@[a-z]{0,3}(\\.[a-z]{0,3})?",
        "https?://[a-z.]{0,12}/[a-z0-9/?=&%]{0,12}",
        html(),
        any::<String>(),
        "\\PC{200,600}",
    ]
}

/// HTML-ish text: nested tags (tables, lists, links, pre), attributes with extreme values,
/// entities, comments, unclosed tags.
pub fn html() -> impl Strategy<Value = String> {
    let tag = prop::sample::select(vec![
        "p",
        "div",
        "br",
        "b",
        "i",
        "a",
        "ul",
        "ol",
        "li",
        "table",
        "tr",
        "td",
        "th",
        "pre",
        "blockquote",
        "h1",
        "span",
        "img",
        "hr",
        "sup",
        "code",
        "font",
        "dl",
        "dt",
        "dd",
    ]);
    let attribute = prop::sample::select(vec![
        "",
        " colspan=\"999999\"",
        " colspan=\"0\"",
        " rowspan=\"-3\"",
        " start=\"-2147483648\"",
        " start=\"99999999999999999999\"",
        " href=\"javascript:alert(1)\"",
        " href=\"\"",
        " width=\"100000000\"",
        " style=\"display:none\"",
    ]);
    let text = prop_oneof![
        "[a-zA-Z ]{0,12}",
        Just("&amp;&lt;&#0;&#x110000;&#99999999;&bogus;".to_owned()),
        Just("<!-- c -->".to_owned()),
        Just("\u{200b}\t\n".to_owned()),
    ];
    let node = (tag, attribute, text)
        .prop_map(|(tag, attribute, text)| format!("<{tag}{attribute}>{text}"));
    prop::collection::vec((node, any::<bool>()), 1..24).prop_map(|nodes| {
        let mut html = String::new();
        let mut open = Vec::new();
        for (node, close) in nodes {
            let name: String = node[1..]
                .chars()
                .take_while(char::is_ascii_alphanumeric)
                .collect();
            html.push_str(&node);
            open.push(name);
            if close && let Some(name) = open.pop() {
                html.push_str(&format!("</{name}>"));
            }
        }
        html
    })
}

/// A JSON number: small, at the edges of i64/u64, or a float.
pub fn odd_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        (-5i64..5).prop_map(Value::from),
        Just(Value::from(i64::MIN)),
        Just(Value::from(i64::MAX)),
        Just(Value::from(u64::MAX)),
        Just(Value::from(253_402_300_800i64)),
        Just(Value::from(-377_705_116_800i64)),
        Just(Value::from(1_781_000_000i64)),
        (1_700_000_000i64..1_900_000_000).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|float| Number::from_f64(float).map_or(Value::Null, Value::Number)),
    ]
}

/// A scalar JSON value.
fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        odd_number(),
        odd_string().prop_map(Value::String),
    ]
}

/// JSON whose object keys are drawn mostly from `keys`, nested a few levels deep.
pub fn json_with_keys(keys: &'static [&'static str]) -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        6 => prop::sample::select(keys).prop_map(str::to_owned),
        1 => "[a-z_]{1,10}",
    ];
    leaf().prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..10)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
        ]
    })
}
