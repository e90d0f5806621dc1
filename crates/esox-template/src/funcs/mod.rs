//! The function map: text/template builtins, ESO's Sprig subset and ESO's own
//! functions. Nothing here reads the environment, files, the network, DNS or
//! other Kubernetes objects: `env`, `expandenv` and `getHostByName` are not
//! defined, so templates using them fail to parse.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::value::Value;

pub mod builtins;
pub mod certs;
pub mod conv;
pub mod crypto;
pub mod dates;
pub mod der;
pub mod dicts;
pub mod encoding;
pub mod keys;
pub mod lists;
pub mod math;
pub mod pem;
pub mod pkcs12;
pub mod reflect;
pub mod regex;
pub mod semver;
pub mod strings;
pub mod unsupported;
pub mod urls;
pub mod wordcase;
pub mod yaml;

/// Go parameter types that text/template converts arguments to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    /// `interface {}`
    Any,
    Str,
    Int,
    Int64,
    F64,
    Bool,
    /// `map[string]interface {}`
    MapAny,
    /// `[]interface {}`
    ListAny,
    /// `[]string`
    StrList,
    /// `time.Time`
    Time,
    /// `uint32`
    U32,
    /// Sprig's `certificate` struct.
    Certificate,
    /// Sprig's `HashAlgorithm`, a named string type: Go converts a string literal to it but
    /// refuses a computed string.
    HashAlgorithm,
}

impl Ty {
    pub fn go_name(self) -> &'static str {
        match self {
            Ty::Any => "interface {}",
            Ty::Str => "string",
            Ty::Int => "int",
            Ty::Int64 => "int64",
            Ty::F64 => "float64",
            Ty::Bool => "bool",
            Ty::MapAny => "map[string]interface {}",
            Ty::ListAny => "[]interface {}",
            Ty::StrList => "[]string",
            Ty::Time => "time.Time",
            Ty::U32 => "uint32",
            Ty::HashAlgorithm => "sprig.HashAlgorithm",
            Ty::Certificate => "sprig.certificate",
        }
    }
}

pub type FuncImpl = fn(&[Value]) -> Result<Value, String>;

pub struct FuncDef {
    pub name: &'static str,
    pub params: &'static [Ty],
    pub variadic: Option<Ty>,
    pub f: FuncImpl,
}

impl std::fmt::Debug for FuncDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FuncDef({})", self.name)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builtin {
    And,
    Or,
    Not,
    Len,
    Index,
    Print,
    Printf,
    Println,
    Html,
    Js,
    Urlquery,
    Call,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Clone, Copy, Debug)]
pub enum FuncRef {
    Builtin(Builtin),
    Lib(&'static FuncDef),
}

#[derive(Default)]
pub struct Registry {
    map: HashMap<&'static str, FuncDef>,
}

impl Registry {
    pub fn add(
        &mut self,
        name: &'static str,
        params: &'static [Ty],
        variadic: Option<Ty>,
        f: FuncImpl,
    ) {
        self.map.insert(
            name,
            FuncDef {
                name,
                params,
                variadic,
                f,
            },
        );
    }
}

/// The names of every function a template can call (Sprig's, ESO's), sorted; the builtins
/// (`and`, `printf`, `index`, ...) are not included.
pub fn names() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = registry().keys().copied().collect();
    v.sort_unstable();
    v
}

fn registry() -> &'static HashMap<&'static str, FuncDef> {
    static REG: OnceLock<HashMap<&'static str, FuncDef>> = OnceLock::new();
    REG.get_or_init(|| {
        let mut r = Registry::default();
        strings::register(&mut r);
        math::register(&mut r);
        lists::register(&mut r);
        dicts::register(&mut r);
        encoding::register(&mut r);
        reflect::register(&mut r);
        regex::register(&mut r);
        dates::register(&mut r);
        yaml::register(&mut r);
        pem::register(&mut r);
        keys::register(&mut r);
        crypto::register(&mut r);
        certs::register(&mut r);
        unsupported::register(&mut r);
        semver::register(&mut r);
        urls::register(&mut r);
        pkcs12::register(&mut r);
        r.map
    })
}

/// Names of every library (non-builtin) function, sorted.
pub fn library_function_names() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = registry().keys().copied().collect();
    v.sort_unstable();
    v
}

pub fn lookup(name: &str) -> Option<FuncRef> {
    let b = match name {
        "and" => Builtin::And,
        "or" => Builtin::Or,
        "not" => Builtin::Not,
        "len" => Builtin::Len,
        "index" => Builtin::Index,
        "print" => Builtin::Print,
        "printf" => Builtin::Printf,
        "println" => Builtin::Println,
        "html" => Builtin::Html,
        "js" => Builtin::Js,
        "urlquery" => Builtin::Urlquery,
        "call" => Builtin::Call,
        "eq" => Builtin::Eq,
        "ne" => Builtin::Ne,
        "lt" => Builtin::Lt,
        "le" => Builtin::Le,
        "gt" => Builtin::Gt,
        "ge" => Builtin::Ge,
        _ => return registry().get(name).map(FuncRef::Lib),
    };
    Some(FuncRef::Builtin(b))
}

/// text/template's validateType for a computed value.
pub fn convert(v: Value, ty: Ty) -> Result<Value, String> {
    use crate::value::{Elem, IntKind};
    let ok = match (&v, ty) {
        (_, Ty::Any) => true,
        (Value::Nil, Ty::MapAny) => return Ok(Value::map(Default::default())),
        (Value::Nil, Ty::ListAny) => return Ok(Value::list(Vec::new())),
        (Value::Nil, Ty::StrList) => return Ok(Value::str_list(Vec::new())),
        (Value::Nil, _) => return Err(format!("invalid value; expected {}", ty.go_name())),
        (Value::Str(_), Ty::Str) => true,
        (Value::Int(_, IntKind::Int), Ty::Int) => true,
        (Value::Int(_, IntKind::Int64), Ty::Int64) => true,
        (Value::Float(_), Ty::F64) => true,
        (Value::Bool(_), Ty::Bool) => true,
        (Value::Map(_, Elem::Any), Ty::MapAny) => true,
        (Value::List(_, Elem::Any), Ty::ListAny) => true,
        (Value::List(_, Elem::Str), Ty::StrList) => true,
        (Value::Time(_), Ty::Time) => true,
        (Value::Cert(_), Ty::Certificate) => true,
        _ => false,
    };
    if ok {
        Ok(v)
    } else {
        Err(format!(
            "wrong type for value; expected {}; got {}",
            ty.go_name(),
            v.type_name()
        ))
    }
}

/// Argument helpers for function bodies (types were checked by `convert`).
pub fn s(args: &[Value], i: usize) -> &str {
    args.get(i).and_then(Value::as_str).unwrap_or("")
}

pub fn int(args: &[Value], i: usize) -> i64 {
    match args.get(i) {
        Some(Value::Int(n, _)) => *n,
        _ => 0,
    }
}

pub fn f64_arg(args: &[Value], i: usize) -> f64 {
    match args.get(i) {
        Some(Value::Float(f)) => *f,
        _ => 0.0,
    }
}
