//! Sprig's reflection helpers.

use super::{Registry, Ty, s};
use crate::value::Value;

pub fn register(r: &mut Registry) {
    use Ty::*;
    r.add("typeOf", &[Any], None, |a| Ok(Value::str(a[0].type_name())));
    r.add("typeIs", &[Str, Any], None, |a| {
        Ok(Value::Bool(s(a, 0) == a[1].type_name()))
    });
    r.add("typeIsLike", &[Str, Any], None, |a| {
        let t = a[1].type_name();
        Ok(Value::Bool(s(a, 0) == t || format!("*{}", s(a, 0)) == t))
    });
    r.add("kindOf", &[Any], None, |a| Ok(Value::str(a[0].kind_name())));
    r.add("kindIs", &[Str, Any], None, |a| {
        Ok(Value::Bool(s(a, 0) == a[1].kind_name()))
    });
}
