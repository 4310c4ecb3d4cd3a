use proptest::prelude::*;

use super::ast::{
    At, Cond, Expr, FieldCmp, FieldSlot, Glob, Number, Op, Pattern, Regex, Segment, Selector, Slot,
    Term, TermKind, Test, Value,
};
use super::{FilterPattern, PatternKind, parse};

fn pattern(text: &str) -> FilterPattern {
    FilterPattern::parse(text).unwrap_or_else(|e| panic!("{text:?} should parse: {e}"))
}

// ---- every example of the AWS pages ---------------------------------------------------------

/// The current AWS page, by section (docs.aws.amazon.com/AmazonCloudWatch/latest/logs/...).
const REGEX: &str = "FilterAndPatternSyntax.html#regex-expressions";
const REGEX_TERMS: &str = "FilterAndPatternSyntax.html#matching-terms-regex";
const REGEX_PAGE: &str = "regex-expressions.html (Supported regular expressions (regex) syntax)";
const UNSTRUCTURED: &str = "FilterAndPatternSyntax.html#matching-terms-unstructured-log-events";
const JSON: &str = "FilterAndPatternSyntax.html#matching-terms-json-log-events";
const SPACE: &str = "FilterAndPatternSyntax.html#matching-term-space-delimited-log-events";
/// Earlier versions of the same page, from awsdocs/amazon-cloudwatch-logs-user-guide
/// (doc_source/FilterAndPatternSyntax.md, archived 2023): examples the current page dropped.
const ARCHIVED: &str = "awsdocs/amazon-cloudwatch-logs-user-guide FilterAndPatternSyntax.md";

/// The JSON log event of the page's JSON section, on one line as the page asks; the archived
/// version also has `"ThisFlag": true`.
const EVENT: &str = r#"{"eventType": "UpdateTrail", "sourceIPAddress": "111.111.111.111", "arrayKey": ["value", "another value"], "objectList": [{"name": "a", "id": 1}, {"name": "b", "id": 2}], "SomeObject": null, "cluster.name": "c", "ThisFlag": true}"#;
/// The JSON object of the compound-expression examples.
const OBJECT: &str = r#"{"user": {"id": 1, "email": "John.Stiles@example.com"}, "users": [{"id": 2, "email": "John.Doe@example.com"}, {"id": 3, "email": "Jane.Doe@example.com"}], "actions": ["GET", "PUT", "DELETE"], "coordinates": [[0, 1, 2], [4, 5, 6], [7, 8, 9]]}"#;
const APACHE: &str =
    r#"127.0.0.1 Prod frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534"#;
const APACHE_410: &str =
    r#"127.0.0.1 Prod frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 410 1534"#;
const APACHE_400: &str =
    r#"127.0.0.1 Prod frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 400 1534"#;
const APACHE_403: &str =
    r#"127.0.0.1 Prod frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 403 1534"#;
const APACHE_200_SMALL: &str =
    r#"127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 999"#;
const APACHE_200: &str =
    r#"127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 1534"#;
const APACHE_500: &str =
    r#"127.0.0.1 - frank [10/Oct/2000:13:35:22 -0700] "GET /apache_pb.gif HTTP/1.0" 500 5324"#;
const APACHE_200B: &str =
    r#"127.0.0.1 - frank [10/Oct/2000:13:50:35 -0700] "GET /apache_pb.gif HTTP/1.0" 200 4355"#;
const GET: &str = "INFO 09/25/2014 12:00:00 GET /service/resource/67 1200";
const POST: &str = "INFO 09/25/2014 12:00:01 POST /service/resource/67/part/111 1310";
const WARNING: &str = "WARNING 09/25/2014 12:00:02 Invalid user request";
const ERROR: &str = "ERROR 09/25/2014 12:00:02 Failed to process request";

const E400: &str = "[ERROR 400] BAD REQUEST";
const E401: &str = "[ERROR 401] UNAUTHORIZED REQUEST";
const E419: &str = "[ERROR 419] MISSING ARGUMENTS";
const E420: &str = "[ERROR 420] INVALID ARGUMENTS";
const E500: &str = "[ERROR 500] INTERNAL SERVER ERROR";

/// `(event, whether the pattern matches it)`
type Events = &'static [(&'static str, bool)];

/// (page, pattern, events). Where a page gives a pattern without events (the numeric
/// JSON examples, the regex operators' "matches X" lists), the events are the ones the page
/// names, or values the page's words decide, marked "ours".
#[rustfmt::skip]
const DOCUMENTED: &[(&str, &str, Events)] = &[
    // Regular expressions: the operator list.
    (REGEX, "%^[hc]at%", &[("hat", true), ("cat", true), ("a hat", false)]),
    (REGEX, "%[hc]at$%", &[("hat", true), ("cat", true), ("hats", false)]),
    (REGEX, "%colou?r%", &[("color", true), ("colour", true)]),
    (REGEX, "%[abc]%", &[("a", true), ("b", true), ("c", true), ("d", false)]),
    (REGEX, "%[a-z]%", &[("q", true), ("Q", false)]),
    (REGEX, "%[abcx-z]%", &[("a", true), ("b", true), ("c", true), ("x", true), ("y", true), ("z", true), ("d", false)]),
    (REGEX, "%a{3,5}%", &[("aaa", true), ("aaaa", true), ("aaaaa", true), ("aa", false)]),
    (REGEX, "%gra|ey%", &[("gray", true), ("grey", true)]),
    (REGEX, "%^starting|^initializing|^shutting down%", &[("starting ...", true), ("initializing ...", true), ("shutting down", true), ("skipping initializing ...", false)]),
    // The page prints this one without its closing % and says it matches "abcc ..." and
    // "aba ..."; `ab[^c]$` only matches "aba" at the end of the text.
    (REGEX, "%abcc|ab[^c]$%", &[("abcc ...", true), ("aba", true), ("aac ...", false)]),
    (REGEX, r"%\[.\]%", &[("[a]", true), ("[b]", true), ("[7]", true), ("[@]", true), ("[]]", true), ("[ ]", true)]),
    (REGEX, r"%10\.10\.0\.1%", &[("10.10.0.1", true), ("10010,051", false)]),
    (REGEX, "%10.10.0.1%", &[("10010,051", true)]),
    (REGEX, "%ab*c%", &[("ac", true), ("abc", true), ("abbbc", true)]),
    (REGEX, "%ab[0-9]*%", &[("ab", true), ("ab0", true), ("ab129", true)]),
    (REGEX, "%ab+c%", &[("abc", true), ("abbc", true), ("abbbc", true), ("ac", false)]),
    (REGEX, "%.at%", &[("hat", true), ("cat", true), ("bat", true), ("4at", true), ("#at", true), (" at", true)]),
    (REGEX, r"%\d%", &[("7", true), ("x", false)]),
    (REGEX, "%[0-9]%", &[("7", true), ("x", false)]),
    (REGEX, r"%\D%", &[("x", true), ("7", false)]),
    (REGEX, r"%\s%", &[("a b", true), ("a\tb", true), ("a\nb", true), ("ab", false)]),
    (REGEX, r"%\S%", &[("a", true), (" \t", false)]),
    (REGEX, r"%\w%", &[("_", true), ("Z", true), ("9", true), ("!", false), ("é", false)]),
    (REGEX, r"%\W%", &[("!", true), ("a", false)]),
    (REGEX, r"%\x3A%", &[(":", true), (";", false)]),
    (REGEX, r"%\x28%", &[("(", true), (")", false)]),
    (REGEX_TERMS, "%AUTHORIZED%", &[("[ERROR 401] UNAUTHORIZED REQUEST", true), ("[SUCCESS 200] AUTHORIZED REQUEST", true), ("[SUCCESS 200] OK", false)]),
    (REGEX_PAGE, r"%\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}%", &[("from 10.0.12.7", true), ("from host-a", false)]),
    (REGEX_PAGE, "%[Ee]rror|[Ff]ail%", &[("Error", true), ("error", true), ("Fail", true), ("fail", true), ("ERROR", false)]),
    // Unstructured log events.
    (UNSTRUCTURED, "ERROR", &[(E400, true), (E401, true), (E419, true), (E420, true)]),
    (UNSTRUCTURED, "ERROR ARGUMENTS", &[(E419, true), (E420, true), (E400, false), (E401, false)]),
    (UNSTRUCTURED, "?ERROR ?ARGUMENTS", &[(E400, true), (E401, true), (E419, true), (E420, true), ("[INFO] OK", false)]),
    // "If you combine "?" with other filter patterns, all question mark terms will be ignored."
    (UNSTRUCTURED, "?ERROR ?ARGUMENTS REQUEST", &[("[INFO] REQUEST FAILED", true), ("[WARN] UNAUTHORIZED REQUEST", true), ("[ERROR] 400 BAD REQUEST", true), (E419, false)]),
    (UNSTRUCTURED, "\"INTERNAL SERVER ERROR\"", &[(E500, true), ("[ERROR 500] INTERNAL ERROR: SERVER", false)]),
    (UNSTRUCTURED, "ERROR -ARGUMENTS", &[(E400, true), (E401, true), (E419, false), (E420, false)]),
    (UNSTRUCTURED, "\" \"", &[(E400, true), ("", true), ("anything", true)]),
    // JSON log events (the page's event, on one line).
    (JSON, r#"{ $.eventType = "UpdateTrail" }"#, &[(EVENT, true), (r#"{"eventType": "CreateTrail"}"#, false)]),
    (JSON, "{ $.sourceIPAddress != 123.123.* }", &[(EVENT, true), (r#"{"sourceIPAddress": "123.123.0.1"}"#, false)]),
    (JSON, r#"{ $.arrayKey[0] = "value" }"#, &[(EVENT, true)]),
    (JSON, "{ $.eventType = %Trail% }", &[(EVENT, true)]),
    (JSON, "{ $.arrayKey[*] = %val.{2}% }", &[(EVENT, true)]),
    (JSON, r"{ $.* = %111\.111\.111\.1[0-9]{1,2}% }", &[(EVENT, true)]),
    (JSON, r#"{ $.['cluster.name'] = "c" }"#, &[(EVENT, true)]),
    (JSON, "{ $.SomeObject IS NULL }", &[(EVENT, true)]),
    (JSON, "{ $.SomeOtherObject NOT EXISTS }", &[(EVENT, true)]),
    (JSON, r#"{ ($.user.id = 1) && ($.users[0].email = "John.Doe@example.com") }"#, &[(OBJECT, true)]),
    (JSON, r#"{ $.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = "nonmatch" && $.actions[2] = "nonmatch" }"#, &[(OBJECT, true)]),
    (JSON, r#"{ ($.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = "nonmatch") && $.actions[2] = "nonmatch" }"#, &[(OBJECT, false)]),
    (JSON, r#"{ ($.user.id = 2 && $.users[0].email = "nonmatch") || $.actions[2] = "GET" }"#, &[(OBJECT, false)]),
    // The numeric examples; events ours, decided by the operator.
    (JSON, "{ $.bandwidth > 75 }", &[(r#"{"bandwidth": 76}"#, true), (r#"{"bandwidth": 75}"#, false)]),
    (JSON, "{ $.latency < 50 }", &[(r#"{"latency": 49.9}"#, true), (r#"{"latency": 50}"#, false)]),
    (JSON, "{ $.refreshRate >= 60 }", &[(r#"{"refreshRate": 60}"#, true), (r#"{"refreshRate": 59}"#, false)]),
    (JSON, "{ $.responseTime <= 5 }", &[(r#"{"responseTime": 5}"#, true), (r#"{"responseTime": 6}"#, false)]),
    (JSON, "{ $.errorCode = 400}", &[(r#"{"errorCode": 400}"#, true), (r#"{"errorCode": 401}"#, false)]),
    (JSON, "{ $.errorCode != 500 }", &[(r#"{"errorCode": 400}"#, true), (r#"{"errorCode": 500}"#, false)]),
    (JSON, "{ $.number[0] = 1e+3 }", &[(r#"{"number": [1000]}"#, true), (r#"{"number": [1001]}"#, false)]),
    (JSON, "{ $.number[0] != 1e-3 }", &[(r#"{"number": [1]}"#, true), (r#"{"number": [0.001]}"#, false)]),
    // Space-delimited log events.
    (SPACE, r"[ip=%127\.0\.0\.[1-9]%, user, username, timestamp, request =*.html*, status_code = 4*, bytes]", &[(APACHE, true), (APACHE_200, false)]),
    (SPACE, "[..., request =*.html*, status_code = 4*, bytes]", &[(APACHE, true), (APACHE_200, false)]),
    (SPACE, "[ip, user, username, timestamp, request =*.html*, status_code = 404 || status_code = 410, bytes]", &[(APACHE, true), (APACHE_410, true), (APACHE_400, false)]),
    (SPACE, "[w1=ERROR, w2]", &[(ERROR, true), (WARNING, false), (GET, false), (POST, false)]),
    (SPACE, "[w1=ERROR || w1=WARNING, w2]", &[(ERROR, true), (WARNING, true), (GET, false), (POST, false)]),
    (SPACE, "[w1!=ERROR && w1!=WARNING, w2]", &[(GET, true), (POST, true), (ERROR, false), (WARNING, false)]),
    (SPACE, "[logLevel, date, time, method, url=%/service/resource/[0-9]+$%, response_time]", &[(GET, true), (POST, false), (WARNING, false), (ERROR, false)]),
    (SPACE, "[logLevel, date, time, method, url=%/service/resource/[0-9]+/part/[0-9]+$%, response_time]", &[(POST, true), (GET, false)]),
    // The archived page: unstructured.
    (ARCHIVED, "\"\"", &[(E400, true), ("", true)]),
    (ARCHIVED, "ERROR", &[("[ERROR] A fatal exception has occurred", true), ("Exiting with ERRORCODE: -1", true)]),
    // Written there in prose as `"ERROR" - "Exiting"`.
    (ARCHIVED, "\"ERROR\" -\"Exiting\"", &[("[ERROR] A fatal exception has occurred", true), ("Exiting with ERRORCODE: -1", false)]),
    (ARCHIVED, "ERROR Exception", &[("[ERROR] Caught IllegalArgumentException", true), ("[ERROR] Unhandled Exception", true), ("[ERROR] Unhandled", false)]),
    (ARCHIVED, "Failed to process the request", &[("[WARN] Failed to process the request", true), ("[ERROR] Unable to continue: Failed to process the request", true)]),
    (ARCHIVED, "ERROR", &[("ERROR WARN message", true), ("ERROR message", true), ("WARN message", false)]),
    (ARCHIVED, "?ERROR ?WARN", &[("ERROR WARN message", true), ("ERROR message", true), ("WARN message", true)]),
    (ARCHIVED, "ERROR WARN", &[("ERROR WARN message", true), ("ERROR message", false), ("WARN message", false)]),
    (ARCHIVED, "ERROR -WARN", &[("ERROR WARN message", false), ("ERROR message", true), ("WARN message", false)]),
    // The archived page's OR examples for space-delimited patterns; it also says `[w1=ERROR,
    // w2]` does not match "ERROR WARN message", which the current page's `[w1=ERROR, w2]`
    // example (a six-field ERROR line matches) contradicts; ktail follows the current page.
    (ARCHIVED, "[w1=ERROR, w2]", &[("ERROR message", true), ("WARN message", false)]),
    (ARCHIVED, "[w1=ERROR || w1=WARN, w2]", &[("ERROR message", true), ("WARN message", true), ("INFO message", false)]),
    (ARCHIVED, "{$.foo = bar}", &[(r#"{"foo": "bar"}"#, true), (r#"{"foo": "baz"}"#, false)]),
    (ARCHIVED, "{$.foo = baz }", &[(r#"{"foo": "bar"}"#, false), (r#"{"foo": "baz"}"#, true)]),
    (ARCHIVED, "{$.foo = bar || $.foo = baz }", &[(r#"{"foo": "bar"}"#, true), (r#"{"foo": "baz"}"#, true), (r#"{"foo": "qux"}"#, false)]),
    // The archived page: JSON.
    (ARCHIVED, r#"{ $.eventType = "UpdateTrail" }"#, &[(EVENT, true)]),
    (ARCHIVED, "{ $.sourceIPAddress != 123.123.* }", &[(EVENT, true)]),
    (ARCHIVED, r#"{ $.arrayKey[0] = "value" }"#, &[(EVENT, true), (r#"{"arrayKey": "value"}"#, false)]),
    (ARCHIVED, "{ $.objectList[1].id = 2 }", &[(EVENT, true), (r#"{"objectList": {"id": 2}}"#, false), (r#"{"objectList": [1, 2]}"#, false)]),
    (ARCHIVED, "{ $.SomeObject IS NULL }", &[(EVENT, true), (r#"{"SomeObject": {}}"#, false), ("{}", false)]),
    (ARCHIVED, "{ $.SomeOtherObject NOT EXISTS }", &[(EVENT, true), (r#"{"SomeOtherObject": null}"#, false)]),
    (ARCHIVED, "{ $.ThisFlag IS TRUE }", &[(EVENT, true), (r#"{"ThisFlag": false}"#, false)]),
    (ARCHIVED, "{ $.ThisFlag IS FALSE }", &[(EVENT, false), (r#"{"ThisFlag": false}"#, true)]),
    (ARCHIVED, r#"{ $.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch && $.actions[2] = nomatch }"#, &[(OBJECT, true)]),
    (ARCHIVED, r#"{ ($.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch) && $.actions[2] = nomatch }"#, &[(OBJECT, false)]),
    // "both {$.users = 1} and {$.users != 1} will fail to match a log event where users is an
    // array"
    (ARCHIVED, "{$.users = 1}", &[(r#"{"users": [1, 2, 3]}"#, false)]),
    (ARCHIVED, "{$.users != 1}", &[(r#"{"users": [1, 2, 3]}"#, false)]),
    // "*Event will match PutEvent and GetEvent. Event* will match EventId and EventName.
    // Ev*ent will only match the actual string Ev*ent."
    (ARCHIVED, "{ $.name = *Event }", &[(r#"{"name": "PutEvent"}"#, true), (r#"{"name": "GetEvent"}"#, true), (r#"{"name": "EventId"}"#, false)]),
    (ARCHIVED, "{ $.name = Event* }", &[(r#"{"name": "EventId"}"#, true), (r#"{"name": "EventName"}"#, true), (r#"{"name": "PutEvent"}"#, false)]),
    (ARCHIVED, "{ $.name = Ev*ent }", &[(r#"{"name": "Ev*ent"}"#, true), (r#"{"name": "Event"}"#, false), (r#"{"name": "Evsent"}"#, false)]),
    // The numeric examples; events ours.
    (ARCHIVED, "{ $.latency >= 500 }", &[(r#"{"latency": 500}"#, true), (r#"{"latency": 499}"#, false)]),
    (ARCHIVED, "{ $.numbers[0] < 10e3 }", &[(r#"{"numbers": [9999]}"#, true), (r#"{"numbers": [10000]}"#, false)]),
    (ARCHIVED, "{ $.numbers[0] < 10e-3 }", &[(r#"{"numbers": [0.009]}"#, true), (r#"{"numbers": [0.01]}"#, false)]),
    (ARCHIVED, "{ $.processes[4].averageRuntime <= 55.5 }", &[(r#"{"processes": [0, 1, 2, 3, {"averageRuntime": 55.5}]}"#, true), (r#"{"processes": [{"averageRuntime": 1}]}"#, false)]),
    (ARCHIVED, "{ $.latency > +1000 }", &[(r#"{"latency": 1001}"#, true), (r#"{"latency": 1000}"#, false)]),
    (ARCHIVED, "{ $.latency = * }", &[(r#"{"latency": 12}"#, true), (r#"{"other": 12}"#, false)]),
    // The archived page: space-delimited, on its three Apache lines.
    (ARCHIVED, "[ip, user, username, timestamp, request, status_code, bytes]", &[(APACHE_200, true), (APACHE_500, true), (APACHE_200B, true)]),
    (ARCHIVED, "[..., status_code, bytes]", &[(APACHE_200, true), (APACHE_500, true), (APACHE_200B, true)]),
    (ARCHIVED, "[ip, user, ..., status_code, bytes]", &[(APACHE_200, true), (APACHE_500, true), (APACHE_200B, true)]),
    (ARCHIVED, "[ip, user, ...]", &[(APACHE_200, true), (APACHE_500, true), (APACHE_200B, true)]),
    (ARCHIVED, "[ip, user, username, timestamp, request, status_code, bytes > 1000]", &[(APACHE_200, true), (APACHE_500, true), (APACHE_200B, true), (APACHE_200_SMALL, false)]),
    (ARCHIVED, "[ip, user, username, timestamp, request, status_code = 200, bytes]", &[(APACHE_200, true), (APACHE_500, false), (APACHE_200B, true)]),
    (ARCHIVED, "[ip, user, username, timestamp, request, status_code = 4*, bytes]", &[(APACHE_200, false), (APACHE_500, false), (APACHE, true)]),
    (ARCHIVED, "[ip, user, username, timestamp, request = *html*, status_code = 4*, bytes]", &[(APACHE_200, false), (APACHE, true)]),
    (ARCHIVED, "[ip, user, username, timestamp, request, status_code = 4* && status_code != 403, bytes]", &[(APACHE, true), (APACHE_403, false), (APACHE_200, false)]),
    // The page shows the event with its quotes escaped (`\"GET ... \"`); a trailing comma is an
    // unnamed seventh field (the page's extracted fields list it as "$7": "1534").
    (ARCHIVED, "[..., request=*.html*, status_code=4*,]", &[(r#"127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534"#, true), (APACHE_200, false)]),
];

/// Examples the pages reject, or that ktail rejects (say which).
const DOCUMENTED_INVALID: &[(&str, &str, &str)] = &[
    (REGEX, "%something!%", "\"!\" is not supported"),
    (REGEX, "%(ab)+%", "the ( and ) operators are not supported"),
    (REGEX, "%é%", "multi-byte characters are not supported"),
    (
        JSON,
        "{ $.a IS NOT NULL }",
        "the variables IS NOT and EXISTS currently aren't supported (ktail accepts EXISTS)",
    ),
    (
        JSON,
        "{ $.a[*].b[*] = 1 }",
        "up to one wildcard selector in a property selector",
    ),
    (
        JSON,
        "{ $.a.* = 1 || $.b.* = 1 || $.c.* = 1 || $.d.* = 1 }",
        "up to three wildcard selectors in a filter pattern",
    ),
    (
        JSON,
        "{ $.a = %a% || $.b = %b% || $.c = %c% }",
        "a limit of 2 regex for each filter pattern",
    ),
    (
        SPACE,
        "[a=%a%, b=%b%, c=%c%]",
        "a limit of 2 regex for each filter pattern",
    ),
    // The archived page's `[ip, user, username, timestamp, request, status_code = 4* && bytes >
    // 1000]` names a field `bytes` that the pattern does not have; ktail rejects it.
    (
        ARCHIVED,
        "[ip, user, username, timestamp, request, status_code = 4* && bytes > 1000]",
        "`bytes` is not one of the fields",
    ),
];

#[test]
fn every_documented_example() {
    let mut failures = Vec::new();
    for (page, text, events) in DOCUMENTED {
        let p = match FilterPattern::parse(text) {
            Ok(p) => p,
            Err(e) => {
                failures.push(format!("{page}: {text}: does not parse: {e}"));
                continue;
            }
        };
        for (event, want) in *events {
            if p.matches(event.as_bytes()) != *want {
                failures.push(format!("{page}: {text} on {event:?}: expected {want}"));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn every_documented_rejection() {
    for (page, text, why) in DOCUMENTED_INVALID {
        assert!(
            FilterPattern::parse(text).is_err(),
            "{page}: {text} should be rejected ({why})"
        );
    }
}

#[test]
fn documented_examples_print_and_parse_back() {
    for (page, text, _) in DOCUMENTED {
        let p = pattern(text);
        let printed = p.to_string();
        assert_eq!(pattern(&printed), p, "{page}: {text} printed as {printed}");
    }
}

// ---- error positions ------------------------------------------------------------------------

#[test]
fn errors_point_at_the_problem() {
    let cases = [
        (
            "{ $.status 500 }",
            "at column 12: expected a comparison operator (=, !=, <, <=, >, >=), IS, EXISTS or NOT EXISTS",
        ),
        (
            "[ip, user status = 5*]",
            "at column 11: expected a comparison operator (=, !=, <, <=, >, >=)",
        ),
        (
            "{ $.latency > fast }",
            "at column 15: expected a number (<, <=, > and >= compare numbers)",
        ),
        (
            "ERROR \"unterminated",
            "at column 20: expected a closing \"",
        ),
        (
            "{ $.a = 1 } trailing",
            "at column 13: expected the end of the pattern",
        ),
        (
            "{ $.a = 1 && }",
            "at column 14: expected a property selector such as $.status",
        ),
        (
            "{ $.a IS NOT NULL }",
            "at column 10: expected NULL, TRUE or FALSE after IS",
        ),
        (
            "{ ($.a = 1 }",
            "at column 12: expected &&, || or the closing )",
        ),
        (
            "[a, b = 1 && c = 2]",
            "at column 14: `c` is not one of the fields in [ ]",
        ),
        ("[a, a]", "at column 5: field name `a` appears twice"),
        (
            "ERROR %x%",
            "at column 7: expected a term (a %regex% must be the whole pattern; quote a term that starts with %)",
        ),
        (
            "{ $.a = %x% || $.b = %y% || $.c = %z% }",
            "at column 35: at most 2 regular expressions in a JSON or space-delimited pattern (a CloudWatch Logs quota)",
        ),
        (
            "{ $.a[*].b.* = 1 }",
            "at column 3: at most one * in a property selector (a CloudWatch Logs quota)",
        ),
        (
            "ü %a(b%",
            "at column 3: expected a term (a %regex% must be the whole pattern; quote a term that starts with %)",
        ),
        (
            "%[a-%",
            "at column 1: invalid regular expression: unclosed character class",
        ),
    ];
    for (text, want) in cases {
        match FilterPattern::parse(text) {
            Ok(p) => panic!("{text:?} parsed as {p}"),
            Err(e) => assert_eq!(e.to_string(), want, "{text:?}"),
        }
    }
    // Columns count characters, offsets bytes.
    let e = FilterPattern::parse("üü %x%").unwrap_err();
    assert_eq!((e.offset(), e.column()), (5, 4));
    let e = FilterPattern::parse("%ab(c)%").unwrap_err();
    assert_eq!((e.offset(), e.column()), (3, 4));
    assert!(
        e.message()
            .starts_with("expected a character CloudWatch Logs allows")
    );
}

// ---- behaviour the pages leave open ---------------------------------------------------------

#[test]
fn the_empty_pattern_matches_everything() {
    for text in ["", "   ", "\" \"", "\"\""] {
        let p = pattern(text);
        assert!(p.matches_everything(), "{text:?}");
        assert!(p.matches(b""));
        assert!(p.matches(b"\xff\xfe"));
    }
    assert!(!pattern("x").matches_everything());
    assert_eq!(pattern("").to_string(), "");
}

#[test]
fn terms_are_case_sensitive_substrings_of_bytes() {
    let p = pattern("ERROR");
    assert!(p.matches(b"xERRORx"));
    assert!(!p.matches(b"error"));
    assert!(p.matches(b"\xff\xfeERROR\x00"));
    assert!(pattern("\"payment failed\"").matches(b"the payment failed twice"));
    assert!(!pattern("\"payment failed\"").matches(b"payment has failed"));
    assert!(pattern(r#""say \"hi\"""#).matches(br#"they say "hi" here"#));
    assert!(pattern("status=500").matches(br#"status=500 ok"#));
    assert!(pattern("-ERROR").matches(b"fine"));
    assert!(!pattern("-ERROR").matches(b"ERROR"));
}

#[test]
fn a_regex_runs_over_bytes() {
    assert!(pattern("%ERROR [0-9]+%").matches(b"\xffERROR 42"));
    assert!(!pattern("%ERROR [0-9]+%").matches(b"ERROR x"));
    assert_eq!(pattern("%ERROR [0-9]+%").kind(), PatternKind::Regex);
}

#[test]
fn json_patterns_need_a_json_object() {
    let p = pattern("{ $.missing NOT EXISTS }");
    assert!(p.matches(br#"{"a": 1}"#));
    assert!(p.matches(b"{\"a\": 1}\n"));
    for record in [
        &b"not json"[..],
        b"[1, 2]",
        b"\"text\"",
        b"42",
        b"{\"a\": 1",
        b"{\"a\": 1} trailing",
        b"{\"a\": \"\xff\"}",
        b"",
    ] {
        assert!(!p.matches(record), "{:?}", String::from_utf8_lossy(record));
    }
}

#[test]
fn json_values_compare_by_type() {
    let record = br#"{"status": 500, "code": "500", "text": "abc", "flag": true, "none": null, "obj": {"a": 1}, "esc": "a \"b\" \u0063", "big": 1.5e3}"#;
    let yes = [
        "{ $.status = 500 }",
        "{ $.status = 500.0 }",
        "{ $.status = 5e2 }",
        "{ $.status = 5* }",
        "{ $.status = \"500\" }",
        "{ $.status >= 500 && $.status < 501 }",
        "{ $.code = 500 }",
        "{ $.code > 499 }",
        "{ $.text = abc }",
        "{ $.text = *b* }",
        "{ $.text != abd }",
        "{ $.esc = \"a \\\"b\\\" c\" }",
        "{ $.big = 1500 }",
        "{ $.big = 1.5e3 }",
        "{ $.flag IS TRUE }",
        "{ $.none IS NULL }",
        "{ $.none EXISTS }",
        "{ $.obj EXISTS }",
        "{ $.obj.a = 1 && $.obj EXISTS }",
        "{ $.obj.* = 1 }",
        "{ $.nope NOT EXISTS }",
        "{ $.obj.a.b NOT EXISTS }",
        "{ $.status = %^50%}",
        "{ $.text != %z% }",
    ];
    let no = [
        "{ $.status = 501 }",
        "{ $.text > 1 }",
        "{ $.text = 1 }",
        "{ $.text != 1 }",
        "{ $.flag = true }",
        "{ $.flag IS FALSE }",
        "{ $.none = * }",
        "{ $.none != 1 }",
        "{ $.obj = * }",
        "{ $.obj != 1 }",
        "{ $.nope != 1 }",
        "{ $.nope EXISTS }",
        "{ $.none NOT EXISTS }",
        "{ $.text = %z% }",
    ];
    for text in yes {
        assert!(pattern(text).matches(record), "{text} should match");
    }
    for text in no {
        assert!(!pattern(text).matches(record), "{text} should not match");
    }
}

#[test]
fn the_json_prefilter_keeps_escaped_and_alternative_matches() {
    assert!(pattern("{ $.level = error }").matches(br#"{"level": "\u0065rror"}"#));
    assert!(pattern("{ $.level = error }").matches(br#"{"level": "error"}"#));
    assert!(!pattern("{ $.level = error }").matches(br#"{"level": "info"}"#));
    assert!(pattern("{ $.a = x || $.b = 5 }").matches(br#"{"b": 5}"#));
    assert!(pattern("{ $.a = xyz || $.b = 5* }").matches(br#"{"b": 51}"#));
    assert!(pattern("{ $.a = xyz && $.b > 5 }").matches(br#"{"b": 6, "a": "xyz"}"#));
    assert!(!pattern("{ $.a = xyz && $.b > 5 }").matches(br#"{"b": 6, "a": "xy"}"#));
    assert!(pattern("{ $.a != xyz }").matches(br#"{"a": "abc"}"#));
    assert!(pattern("{ $.long_name > 1 }").matches(br#"{"long\u005fname": 2}"#));
    assert!(!pattern("{ $.long_name > 1 }").matches(br#"{"other": 2}"#));
    assert!(pattern("{ $.long_name NOT EXISTS }").matches(br#"{"other": 2}"#));
    assert!(pattern("{ $.long_name NOT EXISTS || $.x = 1 }").matches(br#"{"other": 2}"#));
    assert!(pattern("{ $.['a.b'] = 1 && $.c[0] EXISTS }").matches(br#"{"a.b": 1, "c": [0]}"#));
}

#[test]
fn json_selectors_share_one_walk() {
    let record = br#"{"a": {"b": [10, {"c": "x"}, 30], "d": "y"}, "e": [[1, 2], [3, 4]]}"#;
    let p = pattern(
        "{ $.a.b[0] = 10 && $.a.b[1].c = x && $.a.d = y && $.e[1][0] = 3 && $.a.b EXISTS && $.a.b[*] = 30 && $.a.* = y && $.e[*][1] = 4 }",
    );
    assert!(p.matches(record));
    assert!(!pattern("{ $.a.b[1].c = x && $.a.b[2] = 31 }").matches(record));
    assert!(pattern("{ $.a.b[*].c = x }").matches(record));
    assert!(pattern("{ $.a[*][0] = 10 }").matches(record));
    assert!(pattern("{ $.['a'].d = y }").matches(record));
    assert!(pattern("{ $.e[0] EXISTS && $.e[0][1] = 2 }").matches(record));
}

#[test]
fn space_delimited_fields() {
    let line = br#"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET /a b.html HTTP/1.0" 503 99"#;
    assert!(pattern("[ip, ident, user, ts, request, status = 5*, bytes]").matches(line));
    assert!(!pattern("[ip, ident, user, ts, request, status = 4*, bytes]").matches(line));
    // Six positions on seven fields: the last takes "503 99", `status` the request.
    assert!(!pattern("[ip, user, ts, request, status = 5*, bytes]").matches(line));
    assert!(pattern("[ip, user, ts, request, status, bytes = \"503 99\"]").matches(line));
    assert!(pattern("[ip, ident, user, ts = 10/Oct*, request = \"GET /a b.html HTTP/1.0\", status, bytes < 100]").matches(line));
    assert!(pattern("[..., status >= 500 && status < 600, bytes]").matches(line));
    assert!(pattern("[ip, ..., status = 503, ...]").matches(line));
    assert!(pattern("[ip = 1.2.3.4, ..., bytes = 99]").matches(line));
    assert!(!pattern("[ip = 1.2.3.5, ...]").matches(line));
    // Too few fields.
    assert!(!pattern("[a, b, c]").matches(b"one two"));
    assert!(pattern("[a, b, c]").matches(b"one two three four"));
    // The last position takes the rest of the line when there is no `...`.
    assert!(pattern("[a, b = \"two three\"]").matches(b"one two three"));
    assert!(pattern("[...]").matches(b""));
    assert!(pattern("[a]").matches(b"  x  \n"));
    // An unclosed bracket runs to the end of the record.
    assert!(pattern("[a, b = x]").matches(b"a [x"));
    assert!(pattern("[a, b]").matches(b"\xff \xfe"));
}

#[test]
fn several_ellipses() {
    let p = pattern("[..., a = x, ..., b = y, ...]");
    assert!(p.matches(b"q x q y q"));
    assert!(p.matches(b"x y"));
    assert!(!p.matches(b"q y q x"));
    let p = pattern("[..., ..., a = x, ..., b = y]");
    assert!(p.matches(b"x q y"));
    assert!(!p.matches(b"x y q"));
    assert!(pattern("[a = x, ..., b = y, ..., c = z]").matches(b"x y z"));
    assert!(!pattern("[a = x, ..., b = y, ..., c = z]").matches(b"x z y"));
    // Conditions across fields: the leftmost placement fails, a later one holds.
    let p = pattern("[..., a, b = 1 && a = 2, ...]");
    assert!(p.matches(b"2 1 3"));
    assert!(p.matches(b"3 3 2 1"));
    assert!(!p.matches(b"1 2 3"));
    // Many fields, many `...`: placement is linear, not a search.
    let many = "x ".repeat(5000);
    assert!(!pattern("[..., a = x, ..., b = x, ..., c = x, ..., d = q]").matches(many.as_bytes()));
    assert!(pattern("[..., a = x, ..., b = x, ..., c = x, ...]").matches(many.as_bytes()));
}

#[test]
fn display_is_canonical() {
    let cases = [
        ("  ERROR   ?x  -\"a b\" ", "ERROR ?x -\"a b\""),
        (
            "{$.a=1&&($.b=2||$.c=x)}",
            "{ $.a = 1 && ($.b = 2 || $.c = x) }",
        ),
        ("{ (($.a = 1)) }", "{ $.a = 1 }"),
        (
            "{ ($.a = 1 && $.b = 2) && $.c = 3 }",
            "{ $.a = 1 && $.b = 2 && $.c = 3 }",
        ),
        ("{ $.a = \"UpdateTrail\" }", "{ $.a = UpdateTrail }"),
        ("{ $.a = \"500\" }", "{ $.a = \"500\" }"),
        ("{ $.a = \"a b\" }", "{ $.a = \"a b\" }"),
        ("{ $['x.y'][*].z is null }", "{ $.['x.y'][*].z IS NULL }"),
        ("[ a,..., b=4*&&b!=403 ,]", "[a, ..., b = 4* && b != 403, ]"),
        ("%a b%", "%a b%"),
    ];
    for (text, want) in cases {
        assert_eq!(pattern(text).to_string(), want, "{text}");
    }
}

// ---- properties -----------------------------------------------------------------------------

fn term() -> impl Strategy<Value = Term> {
    (
        prop_oneof![
            Just(TermKind::Required),
            Just(TermKind::Optional),
            Just(TermKind::Excluded)
        ],
        prop_oneof!["[A-Za-z0-9_]{1,6}", "\\PC{0,6}"],
    )
        .prop_map(|(kind, text)| Term { kind, text })
}

fn regex() -> impl Strategy<Value = Regex> {
    "[A-Za-z0-9:_#=@/;,^$?{}|*+. \\[\\]\\\\-]{1,8}".prop_map(|source| Regex { source, at: At(0) })
}

fn number() -> impl Strategy<Value = Number> {
    "[+-]?([0-9]{1,4}|[0-9]{1,3}\\.[0-9]{0,3}|\\.[0-9]{1,3})([eE][+-]?[0-9]{1,2})?".prop_map(
        |text| {
            let value = text.parse().unwrap_or(0.0);
            Number { text, value }
        },
    )
}

fn value(op: Op) -> BoxedStrategy<Value> {
    if op.is_ordering() {
        return number().prop_map(Value::Number).boxed();
    }
    prop_oneof![
        number().prop_map(Value::Number),
        prop_oneof!["[A-Za-z0-9_*.-]{1,6}", "\\PC{0,6}"]
            .prop_map(|raw| Value::Text(Glob::new(&raw))),
        regex().prop_map(Value::Regex),
    ]
    .boxed()
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::Eq),
        Just(Op::Ne),
        Just(Op::Lt),
        Just(Op::Le),
        Just(Op::Gt),
        Just(Op::Ge)
    ]
}

fn compare() -> impl Strategy<Value = (Op, Value)> {
    op().prop_flat_map(|op| value(op).prop_map(move |v| (op, v)))
}

fn cond() -> impl Strategy<Value = Cond> {
    let segment = prop_oneof![
        "[A-Za-z0-9_-]{1,5}".prop_map(Segment::Name),
        "\\PC{0,5}".prop_map(Segment::Name),
        (0usize..20).prop_map(Segment::Index),
        any::<bool>().prop_map(|bracket| Segment::Wildcard { bracket }),
    ];
    let test = prop_oneof![
        compare().prop_map(|(op, v)| Test::Compare(op, v)),
        Just(Test::IsNull),
        Just(Test::IsTrue),
        Just(Test::IsFalse),
        Just(Test::Exists),
        Just(Test::NotExists),
    ];
    (proptest::collection::vec(segment, 1..4), test).prop_map(|(segments, test)| Cond {
        selector: Selector {
            segments,
            at: At(0),
        },
        test,
    })
}

fn expr<A: Clone + std::fmt::Debug + 'static>(
    leaf: impl Strategy<Value = A> + 'static,
) -> impl Strategy<Value = Expr<A>> {
    leaf.prop_map(Expr::Leaf).prop_recursive(3, 12, 3, |inner| {
        (any::<bool>(), proptest::collection::vec(inner, 2..4)).prop_map(|(or, items)| {
            if or {
                Expr::or(items)
            } else {
                Expr::and(items)
            }
        })
    })
}

fn field_name() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_-]{1,5}"
}

fn slot() -> impl Strategy<Value = Slot> {
    let cmp = (field_name(), compare()).prop_map(|(field, (op, value))| FieldCmp {
        field,
        at: At(0),
        op,
        value,
    });
    prop_oneof![
        Just(Slot::Ellipsis),
        Just(Slot::Unnamed),
        field_name().prop_map(|name| Slot::Field(FieldSlot {
            name,
            at: At(0),
            cond: None
        })),
        expr(cmp).prop_map(|cond| Slot::Field(FieldSlot {
            name: cond.leaves()[0].field.clone(),
            at: At(0),
            cond: Some(cond),
        })),
    ]
}

fn any_pattern() -> impl Strategy<Value = Pattern> {
    prop_oneof![
        proptest::collection::vec(term(), 0..5).prop_map(Pattern::Terms),
        regex().prop_map(Pattern::Regex),
        expr(cond()).prop_map(Pattern::Json),
        proptest::collection::vec(slot(), 1..6)
            .prop_filter("a pattern needs a named field or ...", |slots| {
                slots.iter().any(|s| !matches!(s, Slot::Unnamed))
            })
            .prop_map(Pattern::Delimited),
    ]
}

/// Text that looks like patterns: their tokens in any order.
fn pattern_like() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("{"),
        Just("}"),
        Just("["),
        Just("]"),
        Just("("),
        Just(")"),
        Just("$"),
        Just("$."),
        Just(".a"),
        Just("[0]"),
        Just("[*]"),
        Just(".*"),
        Just("['x']"),
        Just("="),
        Just("!="),
        Just("<"),
        Just(">="),
        Just("&&"),
        Just("||"),
        Just("%"),
        Just("%a%"),
        Just("\""),
        Just("\\"),
        Just("..."),
        Just(","),
        Just(" "),
        Just("?"),
        Just("-"),
        Just("*"),
        Just("IS"),
        Just("NOT"),
        Just("EXISTS"),
        Just("NULL"),
        Just("1e3"),
        Just("-5"),
        Just("ERROR"),
        Just("é"),
        Just("'"),
    ];
    proptest::collection::vec(token, 0..16).prop_map(|t| t.concat())
}

fn record() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..64),
        "\\PC{0,40}".prop_map(String::into_bytes),
        Just(br#"{"a": {"b": [1, "x", null, {"c": true}]}, "d": "e f", "x.y": -2.5e1}"#.to_vec()),
        Just(br#"1.2.3.4 - [a b] "c d" 200 15"#.to_vec()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn printing_then_parsing_gives_the_same_pattern(p in any_pattern()) {
        let printed = p.to_string();
        prop_assert_eq!(parse::parse(&printed).map_err(|e| e.1), Ok(p), "printed as {}", printed);
    }

    #[test]
    fn no_text_panics_the_parser_or_the_matcher(
        text in prop_oneof!["\\PC{0,40}", pattern_like()],
        records in proptest::collection::vec(record(), 1..4),
    ) {
        if let Ok(p) = FilterPattern::parse(&text) {
            for r in &records {
                let _ = p.matches(r);
            }
            let printed = p.to_string();
            prop_assert_eq!(FilterPattern::parse(&printed).ok(), Some(p), "printed as {}", printed);
        }
    }

    #[test]
    fn no_record_panics_a_valid_pattern(p in any_pattern(), records in proptest::collection::vec(record(), 1..4)) {
        if let Ok(p) = FilterPattern::parse(&p.to_string()) {
            for r in &records {
                let _ = p.matches(r);
            }
        }
    }
}

#[test]
fn a_pattern_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync + Clone + 'static>() {}
    shareable::<FilterPattern>();
    shareable::<super::PatternError>();
}
