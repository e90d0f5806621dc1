//! The dynamic value model. It keeps the Go types that templates can observe
//! (`int` vs `int64`, `[]string` vs `[]interface {}`, `map[string]string` vs
//! `map[string]interface {}`), because text/template's argument conversion and
//! Sprig's reflection-based functions behave differently for each.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Go integer kinds a template can see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntKind {
    /// `int`
    Int,
    /// `int64`
    Int64,
    /// `int32` (`rune`)
    Int32,
    /// `uint8` (`byte`), produced by `index` on a string.
    Uint8,
    /// `uint64`, produced by semver's Major/Minor/Patch.
    Uint64,
}

impl IntKind {
    pub fn go_name(self) -> &'static str {
        match self {
            IntKind::Int => "int",
            IntKind::Int64 => "int64",
            IntKind::Int32 => "int32",
            IntKind::Uint8 => "uint8",
            IntKind::Uint64 => "uint64",
        }
    }
}

/// Go element types of slices and maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elem {
    /// `interface {}`
    Any,
    /// `string`
    Str,
    /// `int`
    Int,
    /// `[]interface {}` (only used for `chunk`'s result)
    ListAny,
}

impl Elem {
    pub fn go_name(self) -> &'static str {
        match self {
            Elem::Any => "interface {}",
            Elem::Str => "string",
            Elem::Int => "int",
            Elem::ListAny => "[]interface {}",
        }
    }
}

/// A Go map: a shared, mutable reference (Sprig's `set`, `unset` and `merge`
/// modify the map in place, and templates rely on that).
#[derive(Clone, Default)]
pub struct MapRef(Arc<RwLock<BTreeMap<String, Value>>>);

impl MapRef {
    pub fn new(m: BTreeMap<String, Value>) -> Self {
        MapRef(Arc::new(RwLock::new(m)))
    }
    pub fn read(&self) -> RwLockReadGuard<'_, BTreeMap<String, Value>> {
        self.0.read().unwrap_or_else(|e| e.into_inner())
    }
    pub fn write(&self) -> RwLockWriteGuard<'_, BTreeMap<String, Value>> {
        self.0.write().unwrap_or_else(|e| e.into_inner())
    }
    pub fn get(&self, k: &str) -> Option<Value> {
        self.read().get(k).cloned()
    }
    pub fn len(&self) -> usize {
        self.read().len()
    }
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }
    /// A snapshot of the entries, sorted by key.
    pub fn entries(&self) -> Vec<(String, Value)> {
        self.read()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
    pub fn ptr_eq(&self, o: &MapRef) -> bool {
        Arc::ptr_eq(&self.0, &o.0)
    }
}

/// A parsed semantic version (`*semver.Version`).
#[derive(Clone, PartialEq, Eq)]
pub struct SemverValue {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pub pre: String,
    pub metadata: String,
    pub original: String,
}

impl SemverValue {
    pub fn canonical(&self) -> String {
        let mut s = format!("{}.{}.{}", self.major, self.minor, self.patch);
        if !self.pre.is_empty() {
            s.push('-');
            s.push_str(&self.pre);
        }
        if !self.metadata.is_empty() {
            s.push('+');
            s.push_str(&self.metadata);
        }
        s
    }
}

/// A point in time (`time.Time`) with the UTC offset it is displayed in.
#[derive(Clone, PartialEq, Eq)]
pub struct TimeValue {
    pub unix_nanos: i128,
    pub offset_secs: i32,
    pub zone: String,
}

/// A template value.
#[derive(Clone, Default)]
pub enum Value {
    /// An invalid value: a missing interface, a nil returned by a function.
    #[default]
    Nil,
    Bool(bool),
    Int(i64, IntKind),
    Float(f64),
    Str(Arc<str>),
    List(Arc<Vec<Value>>, Elem),
    Map(MapRef, Elem),
    Semver(Arc<SemverValue>),
    Time(Arc<TimeValue>),
    /// `time.Duration` in nanoseconds.
    Duration(i64),
    /// Sprig's `certificate` struct (`.Cert`, `.Key`), from the certificate functions.
    Cert(Arc<CertPair>),
}

/// Sprig's `certificate`: a PEM certificate and its PEM private key.
#[derive(PartialEq, Eq)]
pub struct CertPair {
    pub cert: Arc<str>,
    pub key: Arc<str>,
}

// Values hold secret data: Debug shows the shape, never the content.
impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(s) => write!(f, "string(<redacted, {} bytes>)", s.len()),
            Value::List(l, _) => write!(f, "{}(<{} items>)", self.type_name(), l.len()),
            Value::Map(m, _) => write!(f, "{}(<{} entries>)", self.type_name(), m.len()),
            _ => write!(f, "{}(<redacted>)", self.type_name()),
        }
    }
}

impl Value {
    pub fn str(s: impl Into<Arc<str>>) -> Value {
        Value::Str(s.into())
    }
    pub fn int(i: i64) -> Value {
        Value::Int(i, IntKind::Int)
    }
    pub fn int64(i: i64) -> Value {
        Value::Int(i, IntKind::Int64)
    }
    pub fn list(items: Vec<Value>) -> Value {
        Value::List(Arc::new(items), Elem::Any)
    }
    pub fn str_list(items: Vec<String>) -> Value {
        Value::List(
            Arc::new(items.into_iter().map(Value::str).collect()),
            Elem::Str,
        )
    }
    /// A nil slice (Go distinguishes it from an empty one in JSON, YAML,
    /// `%#v` and `deepEqual`); all nil slices share one allocation.
    pub fn nil_list(elem: Elem) -> Value {
        static NIL: std::sync::OnceLock<Arc<Vec<Value>>> = std::sync::OnceLock::new();
        Value::List(NIL.get_or_init(|| Arc::new(Vec::new())).clone(), elem)
    }

    pub fn is_nil_list(&self) -> bool {
        match (self, Value::nil_list(Elem::Any)) {
            (Value::List(a, _), Value::List(b, _)) => Arc::ptr_eq(a, &b),
            _ => false,
        }
    }

    pub fn map(m: BTreeMap<String, Value>) -> Value {
        Value::Map(MapRef::new(m), Elem::Any)
    }

    /// Go's `%T` name.
    pub fn type_name(&self) -> String {
        match self {
            Value::Nil => "<nil>".into(),
            Value::Bool(_) => "bool".into(),
            Value::Int(_, k) => k.go_name().into(),
            Value::Float(_) => "float64".into(),
            Value::Str(_) => "string".into(),
            Value::List(_, e) => format!("[]{}", e.go_name()),
            Value::Map(_, e) => format!("map[string]{}", e.go_name()),
            Value::Semver(_) => "*semver.Version".into(),
            Value::Time(_) => "time.Time".into(),
            Value::Duration(_) => "time.Duration".into(),
            Value::Cert(_) => "sprig.certificate".into(),
        }
    }

    /// Go's `reflect.Kind` name.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Nil => "invalid",
            Value::Bool(_) => "bool",
            Value::Int(_, k) => k.go_name(),
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::List(..) => "slice",
            Value::Map(..) => "map",
            Value::Semver(_) => "ptr",
            Value::Time(_) => "struct",
            Value::Duration(_) => "int64",
            Value::Cert(_) => "struct",
        }
    }

    /// text/template's notion of truth (`if`, `with`, `and`, `or`, `not`).
    pub fn truth(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i, _) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l, _) => !l.is_empty(),
            Value::Map(m, _) => !m.is_empty(),
            Value::Semver(_) | Value::Time(_) | Value::Cert(_) => true,
            Value::Duration(d) => *d != 0,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::str(s)
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::str(s)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

/// ESO's data context from raw secret bytes: a flat `map[string]string`.
impl From<BTreeMap<String, Vec<u8>>> for Value {
    fn from(m: BTreeMap<String, Vec<u8>>) -> Self {
        Value::Map(
            MapRef::new(
                m.into_iter()
                    .map(|(k, v)| (k, Value::str(crate::gostr::from_bytes(&v))))
                    .collect(),
            ),
            Elem::Str,
        )
    }
}

/// ESO's data context: a flat `map[string]string`.
impl From<BTreeMap<String, String>> for Value {
    fn from(m: BTreeMap<String, String>) -> Self {
        Value::Map(
            MapRef::new(m.into_iter().map(|(k, v)| (k, Value::str(v))).collect()),
            Elem::Str,
        )
    }
}

impl From<&BTreeMap<String, String>> for Value {
    fn from(m: &BTreeMap<String, String>) -> Self {
        Value::Map(
            MapRef::new(
                m.iter()
                    .map(|(k, v)| (k.clone(), Value::str(v.as_str())))
                    .collect(),
            ),
            Elem::Str,
        )
    }
}

/// Nesting deeper than this is refused wherever a value is walked recursively (printing,
/// copying, comparing, encoding), like the engine's own template-call depth.
pub const MAX_VALUE_DEPTH: usize = 1000;

/// Walking a value that shares sub-values (a dict holding the same dict twice, many levels
/// down) visits each path; beyond this many visits the walk is refused instead of taking
/// exponential time and memory.
pub const MAX_VALUE_VISITS: u64 = 16 * 1024 * 1024;

fn node_id(v: &Value) -> Option<usize> {
    match v {
        Value::Map(m, _) => Some(Arc::as_ptr(&m.0) as *const () as usize),
        Value::List(l, _) if !l.is_empty() => Some(Arc::as_ptr(l) as *const () as usize),
        _ => None,
    }
}

/// Checks that `v` can be walked recursively: no cycle, nesting at most [`MAX_VALUE_DEPTH`],
/// at most [`MAX_VALUE_VISITS`] nodes once shared sub-values are expanded. The walk itself is
/// bounded by the same depth and memoises shared nodes, so it is linear in the value's size.
pub fn check_walkable(v: &Value) -> Result<(), String> {
    use std::collections::HashMap;
    // Per node: None while it is being walked (seeing it again is a cycle), then its
    // expanded size.
    fn walk(
        v: &Value,
        depth: usize,
        memo: &mut HashMap<usize, Option<u64>>,
    ) -> Result<u64, String> {
        if depth > MAX_VALUE_DEPTH {
            return Err(format!(
                "a value nested deeper than {MAX_VALUE_DEPTH} levels"
            ));
        }
        let Some(id) = node_id(v) else { return Ok(1) };
        match memo.get(&id) {
            Some(Some(n)) => return Ok(*n),
            Some(None) => return Err("a dict or list that contains itself".into()),
            None => {}
        }
        memo.insert(id, None);
        let children: Vec<Value> = match v {
            Value::Map(m, _) => m.entries().into_iter().map(|(_, x)| x).collect(),
            Value::List(l, _) => l.to_vec(),
            _ => Vec::new(),
        };
        let mut total: u64 = 1;
        for c in &children {
            total = total.saturating_add(walk(c, depth + 1, memo)?);
            if total > MAX_VALUE_VISITS {
                return Err(format!(
                    "a value of more than {MAX_VALUE_VISITS} elements once shared parts are expanded"
                ));
            }
        }
        memo.insert(id, Some(total));
        Ok(total)
    }
    walk(v, 0, &mut HashMap::new()).map(|_| ())
}

/// Whether `v` is `target` or holds it somewhere (inserting `v` into `target` would make a
/// cycle). Bounded like [`check_walkable`].
pub fn reaches(v: &Value, target: &MapRef) -> bool {
    fn go(
        v: &Value,
        target: &MapRef,
        depth: usize,
        seen: &mut std::collections::HashSet<usize>,
    ) -> bool {
        if depth > MAX_VALUE_DEPTH {
            return true;
        }
        if let Value::Map(m, _) = v
            && m.ptr_eq(target)
        {
            return true;
        }
        let Some(id) = node_id(v) else { return false };
        if !seen.insert(id) {
            return false;
        }
        match v {
            Value::Map(m, _) => m
                .entries()
                .iter()
                .any(|(_, x)| go(x, target, depth + 1, seen)),
            Value::List(l, _) => l.iter().any(|x| go(x, target, depth + 1, seen)),
            _ => false,
        }
    }
    go(v, target, 0, &mut std::collections::HashSet::new())
}

/// How deep `v` nests, counted up to `limit + 1` (a walk that stops there, memoised by node,
/// so it is linear in the value's size and bounded in recursion).
pub fn depth_up_to(v: &Value, limit: usize) -> usize {
    fn go(v: &Value, limit: usize, memo: &mut std::collections::HashMap<usize, usize>) -> usize {
        let Some(id) = node_id(v) else { return 0 };
        if limit == 0 {
            return 1;
        }
        if let Some(d) = memo.get(&id) {
            return *d;
        }
        // A node met again while being walked would be a cycle: count it as too deep.
        memo.insert(id, limit + 1);
        let children: Vec<Value> = match v {
            Value::Map(m, _) => m.entries().into_iter().map(|(_, x)| x).collect(),
            Value::List(l, _) => l.to_vec(),
            _ => Vec::new(),
        };
        let mut d = 1;
        for c in &children {
            d = d.max(1 + go(c, limit - 1, memo));
            if d > limit {
                break;
            }
        }
        memo.insert(id, d);
        d
    }
    go(v, limit, &mut std::collections::HashMap::new())
}
