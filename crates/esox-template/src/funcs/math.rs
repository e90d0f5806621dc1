//! Sprig's number functions and conversions.

use super::conv::{atoi, to_float64, to_int64};
use super::{Registry, Ty, int, s};
use crate::value::{Elem, Value};
use std::sync::Arc;

type R = Result<Value, String>;

fn i64v(i: i64) -> R {
    Ok(Value::int64(i))
}

fn until_step(start: i64, stop: i64, step: i64) -> Result<Vec<i64>, String> {
    let mut v = Vec::new();
    // A resource guard Go does not have: a runaway sequence must not exhaust memory.
    let limit = 2_000_000usize;
    if stop < start {
        if step >= 0 {
            return Ok(v);
        }
        let mut i = start;
        while i > stop {
            v.push(i);
            if v.len() > limit {
                return Err("sequence longer than 2000000 elements".into());
            }
            i += step;
        }
        return Ok(v);
    }
    if step <= 0 {
        return Ok(v);
    }
    let mut i = start;
    while i < stop {
        v.push(i);
        if v.len() > limit {
            return Err("sequence longer than 2000000 elements".into());
        }
        i += step;
    }
    Ok(v)
}

fn int_list(v: Vec<i64>) -> Value {
    Value::List(Arc::new(v.into_iter().map(Value::int).collect()), Elem::Int)
}

fn seq(p: &[i64]) -> Result<String, String> {
    let join = |v: Vec<i64>| {
        v.iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    };
    Ok(match p.len() {
        1 => {
            let (start, end) = (1, p[0]);
            let inc = if end < start { -1 } else { 1 };
            join(until_step(start, end + inc, inc)?)
        }
        2 => {
            let (start, end) = (p[0], p[1]);
            let step = if end < start { -1 } else { 1 };
            join(until_step(start, end + step, step)?)
        }
        3 => {
            let (start, step, end) = (p[0], p[1], p[2]);
            let mut inc = 1;
            if end < start {
                inc = -1;
                if step > 0 {
                    return Ok(String::new());
                }
            }
            join(until_step(start, end + inc, step)?)
        }
        _ => String::new(),
    })
}

/// shopspring/decimal as Sprig uses it: NewFromFloat (shortest digits), exact
/// add/sub/mul, division rounded to 16 places, then back to float64.
#[derive(Clone, Copy)]
struct Dec {
    mant: i128,
    exp: i32,
}

impl Dec {
    fn from_f64(f: f64) -> Option<Dec> {
        if !f.is_finite() {
            return None;
        }
        let s = format!("{:e}", f);
        let (m, e) = s.split_once('e')?;
        let e: i32 = e.parse().ok()?;
        let neg = m.starts_with('-');
        let m = m.trim_start_matches('-');
        let (ip, fp) = m.split_once('.').unwrap_or((m, ""));
        let digits = format!("{ip}{fp}");
        let mant: i128 = digits.parse().ok()?;
        Some(Dec {
            mant: if neg { -mant } else { mant },
            exp: e - fp.len() as i32,
        })
    }
    fn align(a: Dec, b: Dec) -> Option<(i128, i128, i32)> {
        let e = a.exp.min(b.exp);
        let am = a
            .mant
            .checked_mul(10i128.checked_pow((a.exp - e) as u32)?)?;
        let bm = b
            .mant
            .checked_mul(10i128.checked_pow((b.exp - e) as u32)?)?;
        Some((am, bm, e))
    }
    fn to_f64(self) -> f64 {
        format!("{}e{}", self.mant, self.exp).parse().unwrap_or(0.0)
    }
    fn div(self, o: Dec) -> Option<Dec> {
        if o.mant == 0 {
            return None;
        }
        // Quotient rounded half away from zero at 16 decimal places.
        let scale = 16;
        let shift = scale + self.exp - o.exp;
        let (num, den) = if shift >= 0 {
            (
                self.mant
                    .checked_mul(10i128.checked_pow(shift as u32 + 1)?)?,
                o.mant,
            )
        } else {
            (
                self.mant * 10,
                o.mant.checked_mul(10i128.checked_pow((-shift) as u32)?)?,
            )
        };
        let q = num / den;
        let q = if q % 10 >= 5 {
            q / 10 + 1
        } else if q % 10 <= -5 {
            q / 10 - 1
        } else {
            q / 10
        };
        Some(Dec {
            mant: q,
            exp: -scale,
        })
    }
}

fn decimal_op(first: &Value, rest: &[Value], op: fn(Dec, Dec) -> Option<Dec>) -> R {
    let mut acc = Dec::from_f64(to_float64(first)).ok_or("decimal: cannot represent the value")?;
    for x in rest {
        let d = Dec::from_f64(to_float64(x)).ok_or("decimal: cannot represent the value")?;
        acc = op(acc, d).ok_or("decimal: arithmetic overflow or division by zero")?;
    }
    Ok(Value::Float(acc.to_f64()))
}

/// math.Ldexp for the values Pow produces (chunked to stay in range).
fn ldexp(mut a: f64, mut e: i64) -> f64 {
    while e > 1000 {
        a *= 2f64.powi(1000);
        e -= 1000;
    }
    while e < -1000 {
        a *= 2f64.powi(-1000);
        e += 1000;
    }
    a * 2f64.powi(e as i32)
}

/// math.Frexp for finite non-zero normal values.
fn frexp(x: f64) -> (f64, i64) {
    if x == 0.0 || !x.is_finite() {
        return (x, 0);
    }
    let bits = x.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i64;
    if exp == 0 {
        let (m, e) = frexp(x * 2f64.powi(64));
        return (m, e - 64);
    }
    let m = f64::from_bits((bits & !(0x7ffu64 << 52)) | (1022u64 << 52));
    (m, exp - 1022)
}

/// Go's math.Pow for an integral exponent (repeated squaring), which can
/// differ from the C library's pow in the last bit.
fn go_pow_int(x: f64, y: i64) -> f64 {
    if y == 0 {
        return 1.0;
    }
    let (mut x1, mut xe) = frexp(x);
    let (mut a1, mut ae) = (1.0f64, 0i64);
    let mut i = y.unsigned_abs();
    while i != 0 {
        if !(-(1 << 12)..=(1 << 12)).contains(&xe) {
            ae += xe;
            break;
        }
        if i & 1 == 1 {
            a1 *= x1;
            ae += xe;
        }
        x1 *= x1;
        xe <<= 1;
        if x1 < 0.5 {
            x1 += x1;
            xe -= 1;
        }
        i >>= 1;
    }
    if y < 0 {
        a1 = 1.0 / a1;
        ae = -ae;
    }
    ldexp(a1, ae)
}

fn go_round(a: &Value, places: i64, round_on: f64) -> f64 {
    let val = to_float64(a);
    let pow = go_pow_int(10.0, places);
    let digit = pow * val;
    let frac = digit.fract();
    let r = if frac >= round_on {
        digit.ceil()
    } else {
        digit.floor()
    };
    r / pow
}

pub fn register(r: &mut Registry) {
    use Ty::*;
    r.add("atoi", &[Str], None, |a| Ok(Value::int(atoi(s(a, 0)))));
    r.add("int64", &[Any], None, |a| i64v(to_int64(&a[0])));
    r.add("int", &[Any], None, |a| Ok(Value::int(to_int64(&a[0]))));
    r.add("float64", &[Any], None, |a| {
        Ok(Value::Float(to_float64(&a[0])))
    });
    r.add("seq", &[], Some(Int), |a| {
        let p: Vec<i64> = (0..a.len()).map(|i| int(a, i)).collect();
        seq(&p).map(Value::str)
    });
    r.add("toDecimal", &[Any], None, |a| {
        let t = crate::printf::sprint(std::slice::from_ref(&a[0]));
        let (neg, body) = match t.as_bytes().first() {
            Some(b'-') => (true, &t[1..]),
            Some(b'+') => (false, &t[1..]),
            _ => (false, t.as_str()),
        };
        let v = if body.is_empty() || body.contains('_') {
            None
        } else {
            i64::from_str_radix(body, 8).ok()
        };
        i64v(v.map(|v| if neg { -v } else { v }).unwrap_or(0))
    });
    r.add("until", &[Int], None, |a| {
        let c = int(a, 0);
        Ok(int_list(until_step(0, c, if c < 0 { -1 } else { 1 })?))
    });
    r.add("untilStep", &[Int, Int, Int], None, |a| {
        Ok(int_list(until_step(int(a, 0), int(a, 1), int(a, 2))?))
    });
    r.add("add1", &[Any], None, |a| {
        i64v(to_int64(&a[0]).wrapping_add(1))
    });
    r.add("add", &[], Some(Any), |a| {
        i64v(a.iter().fold(0i64, |acc, v| acc.wrapping_add(to_int64(v))))
    });
    r.add("sub", &[Any, Any], None, |a| {
        i64v(to_int64(&a[0]).wrapping_sub(to_int64(&a[1])))
    });
    r.add("div", &[Any, Any], None, |a| {
        let d = to_int64(&a[1]);
        if d == 0 {
            return Err("runtime error: integer divide by zero".into());
        }
        i64v(to_int64(&a[0]).wrapping_div(d))
    });
    r.add("mod", &[Any, Any], None, |a| {
        let d = to_int64(&a[1]);
        if d == 0 {
            return Err("runtime error: integer divide by zero".into());
        }
        i64v(to_int64(&a[0]).wrapping_rem(d))
    });
    r.add("mul", &[Any], Some(Any), |a| {
        i64v(
            a[1..]
                .iter()
                .fold(to_int64(&a[0]), |acc, v| acc.wrapping_mul(to_int64(v))),
        )
    });
    r.add("randInt", &[Int, Int], None, |a| {
        let (min, max) = (int(a, 0), int(a, 1));
        if max <= min {
            return Err("invalid argument to Intn".into());
        }
        let b = super::strings::random_bytes(8)?;
        let x = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
        Ok(Value::int(min + (x % (max - min) as u64) as i64))
    });
    r.add("add1f", &[Any], None, |a| {
        decimal_op(&a[0], &[Value::int(1)], |x, y| {
            Dec::align(x, y).map(|(p, q, e)| Dec {
                mant: p + q,
                exp: e,
            })
        })
    });
    r.add("addf", &[], Some(Any), |a| {
        decimal_op(&Value::Float(0.0), a, |x, y| {
            Dec::align(x, y).map(|(p, q, e)| Dec {
                mant: p + q,
                exp: e,
            })
        })
    });
    r.add("subf", &[Any], Some(Any), |a| {
        decimal_op(&a[0], &a[1..], |x, y| {
            Dec::align(x, y).map(|(p, q, e)| Dec {
                mant: p - q,
                exp: e,
            })
        })
    });
    r.add("mulf", &[Any], Some(Any), |a| {
        decimal_op(&a[0], &a[1..], |x, y| {
            Some(Dec {
                mant: x.mant.checked_mul(y.mant)?,
                exp: x.exp + y.exp,
            })
        })
    });
    r.add("divf", &[Any], Some(Any), |a| {
        decimal_op(&a[0], &a[1..], Dec::div)
    });
    let max_fn: super::FuncImpl = |a| {
        i64v(
            a[1..]
                .iter()
                .fold(to_int64(&a[0]), |m, v| m.max(to_int64(v))),
        )
    };
    r.add("biggest", &[Any], Some(Any), max_fn);
    r.add("max", &[Any], Some(Any), max_fn);
    r.add("min", &[Any], Some(Any), |a| {
        i64v(
            a[1..]
                .iter()
                .fold(to_int64(&a[0]), |m, v| m.min(to_int64(v))),
        )
    });
    r.add("maxf", &[Any], Some(Any), |a| {
        Ok(Value::Float(
            a[1..]
                .iter()
                .fold(to_float64(&a[0]), |m, v| go_max(m, to_float64(v))),
        ))
    });
    r.add("minf", &[Any], Some(Any), |a| {
        Ok(Value::Float(
            a[1..]
                .iter()
                .fold(to_float64(&a[0]), |m, v| go_min(m, to_float64(v))),
        ))
    });
    r.add("ceil", &[Any], None, |a| {
        Ok(Value::Float(to_float64(&a[0]).ceil()))
    });
    r.add("floor", &[Any], None, |a| {
        Ok(Value::Float(to_float64(&a[0]).floor()))
    });
    r.add("round", &[Any, Int], Some(F64), |a| {
        let on = match a.get(2) {
            Some(Value::Float(f)) => *f,
            _ => 0.5,
        };
        Ok(Value::Float(go_round(&a[0], int(a, 1), on)))
    });
}

fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}
fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}
