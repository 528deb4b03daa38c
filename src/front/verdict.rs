//! The shape of a verdict, checked as strictly as the full client's serde
//! checks `wire::Verdict`: the same fields, the same types, nothing
//! unknown, no field twice. A verdict the full client would refuse, the
//! front refuses too, rather than read the parts it understands.

use super::json::Value;

/// What each field may be.
#[derive(Clone, Copy)]
enum Kind {
    Bool,
    I32,
    Str,
    OptStr,
    Strs,
    OptStrs,
    StrMap,
    Files,
    OptU64,
}

/// `wire::Verdict`'s fields; the first three are required.
const FIELDS: &[(&str, Kind, bool)] = &[
    ("allow", Kind::Bool, true),
    ("code", Kind::I32, true),
    ("shell", Kind::Str, true),
    ("stderr", Kind::Strs, false),
    ("session", Kind::OptStr, false),
    ("set_env", Kind::StrMap, false),
    ("unset_env", Kind::Strs, false),
    ("files", Kind::Files, false),
    ("startup_files", Kind::Bool, false),
    ("direct", Kind::OptStrs, false),
    ("trace", Kind::Bool, false),
    ("seq", Kind::OptU64, false),
    ("live_sessions", Kind::Strs, false),
];

/// `wire::FileGrant`'s fields, and whether each is required.
const FILE_FIELDS: &[(&str, Kind, bool)] = &[
    ("credential", Kind::Str, true),
    ("env", Kind::Str, true),
    ("name", Kind::Str, true),
    ("dir", Kind::Bool, false),
    ("content", Kind::Str, true),
];

pub fn check(v: &Value) -> Result<(), &'static str> {
    object(v, FIELDS)
}

fn object(v: &Value, fields: &[(&str, Kind, bool)]) -> Result<(), &'static str> {
    let Value::Obj(pairs) = v else {
        return Err("not an object");
    };
    for (i, (k, value)) in pairs.iter().enumerate() {
        if pairs[..i].iter().any(|(seen, _)| seen == k) {
            return Err("a field given twice");
        }
        let (_, kind, _) = fields
            .iter()
            .find(|(name, _, _)| name == k)
            .ok_or("an unknown field")?;
        if !fits(value, *kind) {
            return Err("a field of the wrong type");
        }
    }
    for (name, _, required) in fields {
        if *required && !pairs.iter().any(|(k, _)| k == name) {
            return Err("a required field missing");
        }
    }
    Ok(())
}

fn strs(items: &[Value]) -> bool {
    items.iter().all(|i| matches!(i, Value::Str(_)))
}

fn fits(v: &Value, kind: Kind) -> bool {
    match (kind, v) {
        (Kind::Bool, Value::Bool(_)) | (Kind::Str, Value::Str(_)) => true,
        (Kind::I32, Value::Int(n)) => i32::try_from(*n).is_ok(),
        (Kind::OptStr, Value::Null | Value::Str(_)) => true,
        (Kind::Strs, Value::Arr(items)) => strs(items),
        (Kind::OptStrs, Value::Null) => true,
        (Kind::OptStrs, Value::Arr(items)) => strs(items),
        // A name twice is the last value, as serde's map and `launch::apply`
        // both take it.
        (Kind::StrMap, Value::Obj(pairs)) => pairs.iter().all(|(_, v)| matches!(v, Value::Str(_))),
        (Kind::Files, Value::Arr(items)) => items.iter().all(|f| object(f, FILE_FIELDS).is_ok()),
        (Kind::OptU64, Value::Null) => true,
        (Kind::OptU64, Value::Int(n)) => *n >= 0,
        _ => false,
    }
}
