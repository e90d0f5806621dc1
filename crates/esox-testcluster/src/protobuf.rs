//! Decoding of the Kubernetes protobuf envelope for the request bodies kubectl's typed clients
//! send (`kubectl create namespace|secret|configmap|serviceaccount|role|rolebinding|token`,
//! `kubectl auth can-i`). Only decoding, only these kinds; answers are always JSON, which
//! clients accept because they list `application/json` in `Accept`.

use base64::Engine;
use serde_json::{Map, Value, json};

/// The 4-byte magic that starts every Kubernetes protobuf body.
pub const MAGIC: &[u8] = b"k8s\0";

#[derive(Clone, Copy)]
enum Ty {
    Str,
    Bytes,
    Int,
    Bool,
    Time,
    Msg(&'static [F]),
    MapStr,
    MapBytes,
}

#[derive(Clone, Copy)]
struct F(u64, &'static str, Ty, bool);

const TYPE_META: &[F] = &[
    F(1, "apiVersion", Ty::Str, false),
    F(2, "kind", Ty::Str, false),
];
const OWNER_REF: &[F] = &[
    F(1, "kind", Ty::Str, false),
    F(3, "name", Ty::Str, false),
    F(4, "uid", Ty::Str, false),
    F(5, "apiVersion", Ty::Str, false),
    F(6, "controller", Ty::Bool, false),
    F(7, "blockOwnerDeletion", Ty::Bool, false),
];
const OBJECT_META: &[F] = &[
    F(1, "name", Ty::Str, false),
    F(2, "generateName", Ty::Str, false),
    F(3, "namespace", Ty::Str, false),
    F(5, "uid", Ty::Str, false),
    F(6, "resourceVersion", Ty::Str, false),
    F(7, "generation", Ty::Int, false),
    F(8, "creationTimestamp", Ty::Time, false),
    F(11, "labels", Ty::MapStr, false),
    F(12, "annotations", Ty::MapStr, false),
    F(13, "ownerReferences", Ty::Msg(OWNER_REF), true),
    F(14, "finalizers", Ty::Str, true),
];
const OBJECT_REF: &[F] = &[
    F(1, "kind", Ty::Str, false),
    F(2, "namespace", Ty::Str, false),
    F(3, "name", Ty::Str, false),
    F(4, "uid", Ty::Str, false),
    F(5, "apiVersion", Ty::Str, false),
];
const LOCAL_REF: &[F] = &[F(1, "name", Ty::Str, false)];
const NAMESPACE: &[F] = &[
    F(1, "metadata", Ty::Msg(OBJECT_META), false),
    F(
        2,
        "spec",
        Ty::Msg(&[F(1, "finalizers", Ty::Str, true)]),
        false,
    ),
];
const SECRET: &[F] = &[
    F(1, "metadata", Ty::Msg(OBJECT_META), false),
    F(2, "data", Ty::MapBytes, false),
    F(3, "type", Ty::Str, false),
    F(4, "stringData", Ty::MapStr, false),
    F(5, "immutable", Ty::Bool, false),
];
const CONFIG_MAP: &[F] = &[
    F(1, "metadata", Ty::Msg(OBJECT_META), false),
    F(2, "data", Ty::MapStr, false),
    F(3, "binaryData", Ty::MapBytes, false),
    F(4, "immutable", Ty::Bool, false),
];
const SERVICE_ACCOUNT: &[F] = &[
    F(1, "metadata", Ty::Msg(OBJECT_META), false),
    F(2, "secrets", Ty::Msg(OBJECT_REF), true),
    F(3, "imagePullSecrets", Ty::Msg(LOCAL_REF), true),
    F(4, "automountServiceAccountToken", Ty::Bool, false),
];
const POLICY_RULE: &[F] = &[
    F(1, "verbs", Ty::Str, true),
    F(2, "apiGroups", Ty::Str, true),
    F(3, "resources", Ty::Str, true),
    F(4, "resourceNames", Ty::Str, true),
    F(5, "nonResourceURLs", Ty::Str, true),
];
const ROLE: &[F] = &[
    F(1, "metadata", Ty::Msg(OBJECT_META), false),
    F(2, "rules", Ty::Msg(POLICY_RULE), true),
];
const SUBJECT: &[F] = &[
    F(1, "kind", Ty::Str, false),
    F(2, "apiGroup", Ty::Str, false),
    F(3, "name", Ty::Str, false),
    F(4, "namespace", Ty::Str, false),
];
const ROLE_REF: &[F] = &[
    F(1, "apiGroup", Ty::Str, false),
    F(2, "kind", Ty::Str, false),
    F(3, "name", Ty::Str, false),
];
const ROLE_BINDING: &[F] = &[
    F(1, "metadata", Ty::Msg(OBJECT_META), false),
    F(2, "subjects", Ty::Msg(SUBJECT), true),
    F(3, "roleRef", Ty::Msg(ROLE_REF), false),
];
const BOUND_REF: &[F] = &[
    F(1, "kind", Ty::Str, false),
    F(2, "apiVersion", Ty::Str, false),
    F(3, "name", Ty::Str, false),
    F(4, "uid", Ty::Str, false),
];
const TOKEN_REQUEST: &[F] = &[
    F(1, "metadata", Ty::Msg(OBJECT_META), false),
    F(
        2,
        "spec",
        Ty::Msg(&[
            F(1, "audiences", Ty::Str, true),
            F(3, "boundObjectRef", Ty::Msg(BOUND_REF), false),
            F(4, "expirationSeconds", Ty::Int, false),
        ]),
        false,
    ),
];
const RESOURCE_ATTRS: &[F] = &[
    F(1, "namespace", Ty::Str, false),
    F(2, "verb", Ty::Str, false),
    F(3, "group", Ty::Str, false),
    F(4, "version", Ty::Str, false),
    F(5, "resource", Ty::Str, false),
    F(6, "subresource", Ty::Str, false),
    F(7, "name", Ty::Str, false),
];
const NON_RESOURCE_ATTRS: &[F] = &[F(1, "path", Ty::Str, false), F(2, "verb", Ty::Str, false)];
const SSAR: &[F] = &[
    F(1, "metadata", Ty::Msg(OBJECT_META), false),
    F(
        2,
        "spec",
        Ty::Msg(&[
            F(1, "resourceAttributes", Ty::Msg(RESOURCE_ATTRS), false),
            F(
                2,
                "nonResourceAttributes",
                Ty::Msg(NON_RESOURCE_ATTRS),
                false,
            ),
        ]),
        false,
    ),
];
const SSRR: &[F] = &[
    F(1, "metadata", Ty::Msg(OBJECT_META), false),
    F(
        2,
        "spec",
        Ty::Msg(&[F(1, "namespace", Ty::Str, false)]),
        false,
    ),
];
const SELF_SUBJECT_REVIEW: &[F] = &[F(1, "metadata", Ty::Msg(OBJECT_META), false)];
const DELETE_OPTIONS: &[F] = &[
    F(1, "gracePeriodSeconds", Ty::Int, false),
    F(
        2,
        "preconditions",
        Ty::Msg(&[
            F(1, "uid", Ty::Str, false),
            F(2, "resourceVersion", Ty::Str, false),
        ]),
        false,
    ),
    F(3, "orphanDependents", Ty::Bool, false),
    F(4, "propagationPolicy", Ty::Str, false),
    F(5, "dryRun", Ty::Str, true),
];

fn schema_for(kind: &str) -> Option<&'static [F]> {
    Some(match kind {
        "Namespace" => NAMESPACE,
        "Secret" => SECRET,
        "ConfigMap" => CONFIG_MAP,
        "ServiceAccount" => SERVICE_ACCOUNT,
        "Role" | "ClusterRole" => ROLE,
        "RoleBinding" | "ClusterRoleBinding" => ROLE_BINDING,
        "TokenRequest" => TOKEN_REQUEST,
        "SelfSubjectAccessReview" => SSAR,
        "SelfSubjectRulesReview" => SSRR,
        "SelfSubjectReview" => SELF_SUBJECT_REVIEW,
        "DeleteOptions" => DELETE_OPTIONS,
        _ => return None,
    })
}

/// (field number, wire type, varint value, length-delimited bytes).
type WireField<'a> = (u64, u64, u64, &'a [u8]);

struct Reader<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, String> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let byte = *self.b.get(self.i).ok_or("truncated varint")?;
            self.i += 1;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("varint too long".into())
    }

    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let n = self.varint()? as usize;
        let end = self
            .i
            .checked_add(n)
            .filter(|e| *e <= self.b.len())
            .ok_or("truncated field")?;
        let s = &self.b[self.i..end];
        self.i = end;
        Ok(s)
    }

    /// (field number, wire type, payload); payload is the varint value or the bytes.
    fn field(&mut self) -> Result<Option<WireField<'a>>, String> {
        if self.i >= self.b.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let (num, wt) = (key >> 3, key & 7);
        Ok(Some(match wt {
            0 => (num, wt, self.varint()?, &[][..]),
            2 => (num, wt, 0, self.bytes()?),
            1 => {
                self.i += 8;
                (num, wt, 0, &[][..])
            }
            5 => {
                self.i += 4;
                (num, wt, 0, &[][..])
            }
            _ => return Err(format!("unsupported wire type {wt}")),
        }))
    }
}

fn utf8(b: &[u8]) -> Result<String, String> {
    String::from_utf8(b.to_vec()).map_err(|_| "invalid UTF-8 in a string field".to_string())
}

fn decode_msg(b: &[u8], schema: &[F]) -> Result<Value, String> {
    let mut out = Map::new();
    let mut r = Reader { b, i: 0 };
    while let Some((num, _wt, int, bytes)) = r.field()? {
        let Some(f) = schema.iter().find(|f| f.0 == num) else {
            continue;
        };
        let v = match f.2 {
            Ty::Str => json!(utf8(bytes)?),
            Ty::Bytes => json!(base64::engine::general_purpose::STANDARD.encode(bytes)),
            Ty::Int => json!(int as i64),
            Ty::Bool => json!(int != 0),
            Ty::Time => {
                let t = decode_msg(bytes, &[F(1, "seconds", Ty::Int, false)])?;
                let secs = t.get("seconds").and_then(Value::as_i64).unwrap_or(0);
                jiff::Timestamp::from_second(secs)
                    .map(|ts| json!(ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()))
                    .unwrap_or(Value::Null)
            }
            Ty::Msg(s) => decode_msg(bytes, s)?,
            Ty::MapStr | Ty::MapBytes => {
                let vt = if matches!(f.2, Ty::MapStr) {
                    Ty::Str
                } else {
                    Ty::Bytes
                };
                let e = decode_msg(bytes, &[F(1, "k", Ty::Str, false), F(2, "v", vt, false)])?;
                let k = e.get("k").and_then(Value::as_str).unwrap_or("").to_string();
                let v = e.get("v").cloned().unwrap_or(json!(""));
                let m = out.entry(f.1).or_insert_with(|| json!({}));
                if let Value::Object(m) = m {
                    m.insert(k, v);
                }
                continue;
            }
        };
        if f.3 {
            if let Value::Array(a) = out.entry(f.1).or_insert_with(|| json!([])) {
                a.push(v);
            }
        } else {
            out.insert(f.1.to_string(), v);
        }
    }
    Ok(Value::Object(out))
}

/// Decodes a protobuf body into the JSON the rest of the server works with.
pub fn decode(body: &[u8]) -> Result<Value, String> {
    let rest = body
        .strip_prefix(MAGIC)
        .ok_or("missing the k8s protobuf magic")?;
    let env = decode_msg(
        rest,
        &[
            F(1, "typeMeta", Ty::Msg(TYPE_META), false),
            F(2, "raw", Ty::Bytes, false),
        ],
    )?;
    let kind = env
        .pointer("/typeMeta/kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let api_version = env
        .pointer("/typeMeta/apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let schema = schema_for(&kind)
        .ok_or_else(|| format!("protobuf bodies of kind {kind:?} are not supported; send JSON"))?;
    let raw = env
        .get("raw")
        .and_then(Value::as_str)
        .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
        .unwrap_or_default();
    let mut v = decode_msg(&raw, schema)?;
    v["apiVersion"] = json!(api_version);
    v["kind"] = json!(kind);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_bytes(num: u64, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![((num << 3) | 2) as u8, payload.len() as u8];
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn decodes_a_configmap_envelope() {
        let meta = field_bytes(1, b"cm1");
        let entry = [field_bytes(1, b"k"), field_bytes(2, b"v")].concat();
        let raw = [field_bytes(1, &meta), field_bytes(2, &entry)].concat();
        let tm = [field_bytes(1, b"v1"), field_bytes(2, b"ConfigMap")].concat();
        let body = [MAGIC.to_vec(), field_bytes(1, &tm), field_bytes(2, &raw)].concat();
        let v = decode(&body).expect("decodes");
        assert_eq!(
            v,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm1"}, "data": {"k": "v"}})
        );
    }
}
