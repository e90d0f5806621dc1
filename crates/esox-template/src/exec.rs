//! Tree-walking executor with text/template semantics and missingkey=error.

use crate::funcs::{self, Builtin, FuncRef, Ty};
use crate::parse::{Arg, Cmd, Control, Node, Number, Pipe, Trees};
use crate::printf::{go_quote, print_value};
use crate::value::{IntKind, Value};

/// Go allows 100000 nested template calls; a Rust stack does not, and no real
/// template nests anywhere near this deep.
const MAX_DEPTH: usize = 200;

/// Bodies (of `if`, `with`, `range`, templates) executing inside one another. The parser bounds
/// nesting within one template ([`crate::parse::MAX_PARSE_DEPTH`]), but template calls stack
/// those: 200 calls of a template nesting 1,000 controls recursed 200,000 times. Execution
/// recurses once per body, so the total is bounded: one template's worth plus the call depth.
pub const MAX_EXEC_NESTING: usize = crate::parse::MAX_PARSE_DEPTH + MAX_DEPTH;

/// Rendering stops beyond this output size: a runaway template must not exhaust memory.
pub const MAX_OUTPUT: usize = 16 * 1024 * 1024;

/// What one render may use. Go has none of these bounds; esox renders templates written by
/// any tenant inside a process that serves them all, so a render must end, and end small.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of output (default 16 MiB, [`MAX_OUTPUT`]). Functions that build strings refuse
    /// results beyond [`MAX_OUTPUT`] whatever this says.
    pub max_output: usize,
    /// Evaluation steps: every action, text, range iteration and function call counts one
    /// (default 10,000,000, about a second of work in a release build).
    pub max_steps: u64,
    /// Wall-clock time for one render (default 10 s), checked every 4,096 steps, so a single
    /// slow function call (bcrypt, RSA key generation) can overrun it by its own duration.
    pub deadline: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_output: MAX_OUTPUT,
            max_steps: 10_000_000,
            deadline: std::time::Duration::from_secs(10),
        }
    }
}

/// Library functions that walk their arguments recursively (print, copy, compare, encode):
/// their arguments are checked for cycles, depth and expanded size first.
const WALKS_ITS_ARGUMENTS: &[&str] = &[
    "deepCopy",
    "mustDeepCopy",
    "deepEqual",
    "toJson",
    "mustToJson",
    "toPrettyJson",
    "mustToPrettyJson",
    "toRawJson",
    "mustToRawJson",
    "toYaml",
    "toString",
    "toStrings",
    "cat",
    "join",
    "quote",
    "squote",
    "uniq",
    "mustUniq",
    "has",
    "mustHas",
    "without",
    "mustWithout",
    "sortAlpha",
];

/// Library functions that put their arguments inside a new or existing dict or list: nesting
/// is bounded there, because everything that walks values recursively (printing, copying,
/// comparing, encoding, and freeing them) would otherwise recurse once per level.
const NESTS_ITS_ARGUMENTS: &[&str] = &[
    "dict",
    "set",
    "list",
    "tuple",
    "append",
    "push",
    "mustAppend",
    "mustPush",
    "prepend",
    "mustPrepend",
    "concat",
    "merge",
    "mustMerge",
    "mergeOverwrite",
    "mustMergeOverwrite",
    "chunk",
    "mustChunk",
];

pub struct ExecError {
    pub pos: usize,
    pub node: String,
    pub template: String,
    pub msg: String,
    /// Errors with no node (no such template, depth limit).
    pub bare: bool,
}

enum Flow {
    Normal,
    Break,
    Continue,
}

type R<T> = Result<T, ExecError>;

pub struct State<'a> {
    trees: &'a Trees,
    template: String,
    vars: Vec<(String, Value)>,
    pub out: String,
    depth: usize,
    /// Bodies executing inside one another, against [`MAX_EXEC_NESTING`].
    nesting: usize,
    limits: Limits,
    steps: u64,
    started: std::time::Instant,
}

impl<'a> State<'a> {
    pub fn new(trees: &'a Trees, template: &str, dot: &Value, limits: Limits) -> Self {
        State {
            trees,
            template: template.to_string(),
            vars: vec![("$".into(), dot.clone())],
            out: String::new(),
            depth: 0,
            nesting: 0,
            limits,
            steps: 0,
            started: std::time::Instant::now(),
        }
    }

    /// Counts one evaluation step against the step budget and, now and then, the deadline.
    fn step(&mut self, pos: usize, node: &dyn std::fmt::Display) -> R<()> {
        self.steps += 1;
        if self.steps > self.limits.max_steps {
            return self.err(
                pos,
                node,
                format!(
                    "the template exceeds the limit of {} evaluation steps",
                    self.limits.max_steps
                ),
            );
        }
        if self.steps.is_multiple_of(4096) && self.started.elapsed() > self.limits.deadline {
            return self.err(
                pos,
                node,
                format!(
                    "the template exceeds the time limit of {:?}",
                    self.limits.deadline
                ),
            );
        }
        Ok(())
    }

    fn err<T>(&self, pos: usize, node: &dyn std::fmt::Display, msg: impl Into<String>) -> R<T> {
        Err(ExecError {
            pos,
            node: node.to_string(),
            template: self.template.clone(),
            msg: msg.into(),
            bare: false,
        })
    }

    pub fn run(&mut self, list: &[Node], dot: &Value) -> R<()> {
        self.walk(list, dot).map(|_| ())
    }

    fn walk(&mut self, list: &[Node], dot: &Value) -> R<Flow> {
        // The top-level list is not nested in anything.
        if self.nesting > MAX_EXEC_NESTING {
            return Err(ExecError {
                pos: 0,
                node: String::new(),
                template: self.template.clone(),
                msg: format!(
                    "exceeded maximum nesting depth ({MAX_EXEC_NESTING} levels of if/with/range bodies and template calls)"
                ),
                bare: true,
            });
        }
        self.nesting += 1;
        let r = self.walk_list(list, dot);
        self.nesting -= 1;
        r
    }

    fn walk_list(&mut self, list: &[Node], dot: &Value) -> R<Flow> {
        for n in list {
            match self.node(n, dot)? {
                Flow::Normal => {}
                f => return Ok(f),
            }
        }
        Ok(Flow::Normal)
    }

    fn write(&mut self, s: &str, pos: usize) -> R<()> {
        if self.out.len() + s.len() > self.limits.max_output {
            return self.err(
                pos,
                &"output",
                format!(
                    "output exceeds the limit of {} bytes",
                    self.limits.max_output
                ),
            );
        }
        self.out.push_str(s);
        Ok(())
    }

    fn node(&mut self, n: &Node, dot: &Value) -> R<Flow> {
        self.step(0, &"template")?;
        match n {
            Node::Text(t) => self.write(t, 0)?,
            Node::Action(p) => {
                let v = self.pipeline(dot, p)?;
                if p.decl.is_empty() {
                    crate::value::check_walkable(&v)
                        .or_else(|m| self.err(p.pos, p, format!("cannot print {m}")))?;
                    let s = print_value(&v);
                    self.write(&s, p.pos)?;
                }
            }
            Node::If(c) | Node::With(c) => {
                let is_with = matches!(n, Node::With(_));
                let mark = self.vars.len();
                let v = self.pipeline(dot, &c.pipe)?;
                let flow = if v.truth() {
                    if is_with {
                        self.walk(&c.list, &v)?
                    } else {
                        self.walk(&c.list, dot)?
                    }
                } else if let Some(e) = &c.else_list {
                    self.walk(e, dot)?
                } else {
                    Flow::Normal
                };
                self.vars.truncate(mark);
                return Ok(flow);
            }
            Node::Range(c) => return self.range(c, dot),
            Node::Template { pos, name, pipe } => {
                let Some(tree) = self.trees.get(name).cloned() else {
                    return self.err(
                        *pos,
                        &format_args!("{{{{template {}}}}}", go_quote(name, false)),
                        format!("template {} not defined", go_quote(name, false)),
                    );
                };
                let new_dot = match pipe {
                    Some(p) => self.pipeline(dot, p)?,
                    None => Value::Nil,
                };
                if self.depth >= MAX_DEPTH {
                    return self.err(
                        *pos,
                        &name,
                        format!("exceeded maximum template depth ({MAX_DEPTH})"),
                    );
                }
                let saved_vars =
                    std::mem::replace(&mut self.vars, vec![("$".into(), new_dot.clone())]);
                let saved_name = std::mem::replace(&mut self.template, name.clone());
                self.depth += 1;
                let r = self.walk(&tree, &new_dot);
                self.depth -= 1;
                self.template = saved_name;
                self.vars = saved_vars;
                r?;
            }
            Node::Break => return Ok(Flow::Break),
            Node::Continue => return Ok(Flow::Continue),
        }
        Ok(Flow::Normal)
    }

    fn range(&mut self, c: &Control, dot: &Value) -> R<Flow> {
        let mark = self.vars.len();
        let v = self.pipeline_value(dot, &c.pipe)?;
        let decl = &c.pipe.decl;
        let mut ran = false;
        let body = |st: &mut State<'a>, k: Value, e: Value| -> R<bool> {
            st.step(c.pos, &c.pipe)?;
            st.vars.truncate(mark);
            match decl.len() {
                1 => st.bind(&c.pipe, 0, e.clone()),
                2 => {
                    st.bind(&c.pipe, 0, k);
                    st.bind(&c.pipe, 1, e.clone());
                }
                _ => {}
            }
            let f = st.walk(&c.list, &e)?;
            Ok(matches!(f, Flow::Break))
        };
        match &v {
            Value::List(items, _) => {
                for (i, e) in items.iter().enumerate() {
                    ran = true;
                    if body(self, Value::int(i as i64), e.clone())? {
                        break;
                    }
                }
            }
            Value::Map(m, _) => {
                for (k, e) in m.entries() {
                    ran = true;
                    if body(self, Value::str(k), e)? {
                        break;
                    }
                }
            }
            // Go 1.22+ ranges over integers.
            Value::Int(n, kind) => {
                if decl.len() > 1 {
                    return self.err(
                        c.pos,
                        &c.pipe,
                        "can't use two variables to range over an integer",
                    );
                }
                for i in 0..*n {
                    ran = true;
                    if body(self, Value::Int(i, *kind), Value::Int(i, *kind))? {
                        break;
                    }
                }
            }
            Value::Nil => {}
            other => {
                return self.err(
                    c.pos,
                    &c.pipe,
                    format!(
                        "range can't iterate over {}",
                        print_value(&type_only(other))
                    ),
                );
            }
        }
        self.vars.truncate(mark);
        if !ran && let Some(e) = &c.else_list {
            let f = self.walk(e, dot)?;
            self.vars.truncate(mark);
            return Ok(f);
        }
        Ok(Flow::Normal)
    }

    fn bind(&mut self, pipe: &Pipe, i: usize, v: Value) {
        let name = &pipe.decl[i];
        if pipe.is_assign {
            self.set_var(name, v);
        } else {
            self.vars.push((name.clone(), v));
        }
    }

    fn set_var(&mut self, name: &str, v: Value) {
        if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
            slot.1 = v;
        }
    }

    /// Evaluates a pipeline and applies its declarations.
    fn pipeline(&mut self, dot: &Value, p: &Pipe) -> R<Value> {
        let v = self.pipeline_value(dot, p)?;
        for name in &p.decl {
            if p.is_assign {
                self.set_var(name, v.clone());
            } else {
                self.vars.push((name.clone(), v.clone()));
            }
        }
        Ok(v)
    }

    fn pipeline_value(&mut self, dot: &Value, p: &Pipe) -> R<Value> {
        let mut fin: Option<Value> = None;
        for c in &p.cmds {
            fin = Some(self.command(dot, c, fin)?);
        }
        Ok(fin.unwrap_or(Value::Nil))
    }

    fn not_a_function(&self, c: &Cmd, fin: &Option<Value>) -> R<()> {
        if c.args.len() > 1 || fin.is_some() {
            return self.err(
                c.args[0].pos(),
                &c.args[0],
                format!("can't give argument to non-function {}", c.args[0]),
            );
        }
        Ok(())
    }

    fn command(&mut self, dot: &Value, c: &Cmd, fin: Option<Value>) -> R<Value> {
        let first = &c.args[0];
        match first {
            Arg::Field { pos, idents } => {
                self.field_chain(dot, dot.clone(), idents, c, fin, *pos, first)
            }
            Arg::Chain { pos, node, idents } => {
                let recv = self.arg_value(dot, node)?;
                self.field_chain(dot, recv, idents, c, fin, *pos, first)
            }
            Arg::Var { pos, name, idents } => {
                let v = self.var(name, *pos, first)?;
                if idents.is_empty() {
                    self.not_a_function(c, &fin)?;
                    return Ok(v);
                }
                self.field_chain(dot, v, idents, c, fin, *pos, first)
            }
            Arg::Pipe(_, p) => {
                self.not_a_function(c, &fin)?;
                self.pipeline_value(dot, p)
            }
            Arg::Func { pos, name, f } => self.call(dot, *pos, name, *f, &c.args[1..], fin, c),
            Arg::Nil(pos) => self.err(*pos, c, "nil is not a command"),
            Arg::Dot(_) => {
                self.not_a_function(c, &fin)?;
                Ok(dot.clone())
            }
            Arg::Bool(_, b) => {
                self.not_a_function(c, &fin)?;
                Ok(Value::Bool(*b))
            }
            Arg::Num(pos, n) => {
                self.not_a_function(c, &fin)?;
                self.ideal(n, *pos, first)
            }
            Arg::Str(_, s) => {
                self.not_a_function(c, &fin)?;
                Ok(Value::str(s.as_str()))
            }
        }
    }

    fn var(&self, name: &str, pos: usize, node: &Arg) -> R<Value> {
        match self.vars.iter().rev().find(|(n, _)| n == name) {
            Some((_, v)) => Ok(v.clone()),
            None => self.err(pos, node, format!("undefined variable: {name}")),
        }
    }

    fn ideal(&self, n: &Number, pos: usize, node: &Arg) -> R<Value> {
        let is_hex = n.text.contains(['x', 'X']);
        if let Some(f) = n.float
            && !is_hex
            && !n.is_char
            && n.text.contains(['.', 'e', 'E', 'p', 'P'])
        {
            return Ok(Value::Float(f));
        }
        match n.int {
            Some(i) => Ok(Value::int(i)),
            None => self.err(pos, node, format!("{} overflows int", n.text)),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn field_chain(
        &mut self,
        dot: &Value,
        mut recv: Value,
        idents: &[String],
        c: &Cmd,
        fin: Option<Value>,
        pos: usize,
        node: &Arg,
    ) -> R<Value> {
        let n = idents.len();
        for (i, name) in idents.iter().enumerate() {
            let has_args = i + 1 == n && (c.args.len() > 1 || fin.is_some());
            recv = self.field(dot, name, recv, has_args, pos, node)?;
        }
        Ok(recv)
    }

    fn field(
        &self,
        _dot: &Value,
        name: &str,
        recv: Value,
        has_args: bool,
        pos: usize,
        node: &Arg,
    ) -> R<Value> {
        match &recv {
            Value::Map(m, _) => {
                if has_args {
                    return self.err(
                        pos,
                        node,
                        format!("{name} is not a method but has arguments"),
                    );
                }
                match m.get(name) {
                    Some(v) => Ok(v),
                    None => self.err(
                        pos,
                        node,
                        format!("map has no entry for key {}", go_quote(name, false)),
                    ),
                }
            }
            Value::Nil => self.err(
                pos,
                node,
                format!("nil data; no entry for key {}", go_quote(name, false)),
            ),
            Value::Semver(sv) => {
                if has_args {
                    return self.err(
                        pos,
                        node,
                        format!("wrong number of args for {name}: want 0"),
                    );
                }
                let v = match name {
                    "Major" => Value::Int(sv.major as i64, IntKind::Uint64),
                    "Minor" => Value::Int(sv.minor as i64, IntKind::Uint64),
                    "Patch" => Value::Int(sv.patch as i64, IntKind::Uint64),
                    "Prerelease" => Value::str(sv.pre.as_str()),
                    "Metadata" => Value::str(sv.metadata.as_str()),
                    "Original" => Value::str(sv.original.as_str()),
                    "String" => Value::str(sv.canonical()),
                    _ => {
                        return self.err(
                            pos,
                            node,
                            format!("can't evaluate field {name} in type *semver.Version"),
                        );
                    }
                };
                Ok(v)
            }
            Value::Cert(c) if name == "Cert" || name == "Key" => {
                if has_args {
                    return self.err(
                        pos,
                        node,
                        format!("{name} has arguments but cannot be invoked as function"),
                    );
                }
                Ok(Value::Str(if name == "Cert" {
                    c.cert.clone()
                } else {
                    c.key.clone()
                }))
            }
            other => self.err(
                pos,
                node,
                format!("can't evaluate field {name} in type {}", other.type_name()),
            ),
        }
    }

    /// Evaluates an argument that is not the first word of a command.
    fn arg_value(&mut self, dot: &Value, a: &Arg) -> R<Value> {
        match a {
            Arg::Field { pos, idents } => {
                let c = Cmd {
                    pos: *pos,
                    args: Vec::new(),
                };
                self.field_chain_noargs(dot, dot.clone(), idents, &c, *pos, a)
            }
            Arg::Var { pos, name, idents } => {
                let v = self.var(name, *pos, a)?;
                let c = Cmd {
                    pos: *pos,
                    args: Vec::new(),
                };
                self.field_chain_noargs(dot, v, idents, &c, *pos, a)
            }
            Arg::Chain { pos, node, idents } => {
                let recv = self.arg_value(dot, node)?;
                let c = Cmd {
                    pos: *pos,
                    args: Vec::new(),
                };
                self.field_chain_noargs(dot, recv, idents, &c, *pos, a)
            }
            Arg::Pipe(_, p) => self.pipeline_value(dot, p),
            Arg::Func { pos, name, f } => {
                let c = Cmd {
                    pos: *pos,
                    args: Vec::new(),
                };
                self.call(dot, *pos, name, *f, &[], None, &c)
            }
            Arg::Dot(_) => Ok(dot.clone()),
            Arg::Nil(_) => Ok(Value::Nil),
            Arg::Bool(_, b) => Ok(Value::Bool(*b)),
            Arg::Num(pos, n) => self.ideal(n, *pos, a),
            Arg::Str(_, s) => Ok(Value::str(s.as_str())),
        }
    }

    fn field_chain_noargs(
        &mut self,
        dot: &Value,
        mut recv: Value,
        idents: &[String],
        _c: &Cmd,
        pos: usize,
        node: &Arg,
    ) -> R<Value> {
        for name in idents {
            recv = self.field(dot, name, recv, false, pos, node)?;
        }
        Ok(recv)
    }

    /// Evaluates an argument for a parameter of type `ty` (Go's evalArg).
    fn typed_arg(&mut self, dot: &Value, a: &Arg, ty: Ty) -> R<Value> {
        let lit_err =
            |st: &Self, what: &str| st.err(a.pos(), a, format!("expected {what}; found {a}"));
        match (a, ty) {
            (Arg::Nil(_), Ty::Any | Ty::MapAny | Ty::ListAny | Ty::StrList) => {
                return funcs::convert(Value::Nil, ty).or_else(|m| self.err(a.pos(), a, m));
            }
            (Arg::Nil(_), _) => {
                return self.err(a.pos(), a, format!("cannot assign nil to {}", ty.go_name()));
            }
            (Arg::Str(_, s), Ty::Str | Ty::Any | Ty::HashAlgorithm) => {
                return Ok(Value::str(s.as_str()));
            }
            (Arg::Str(..), Ty::Int | Ty::Int64 | Ty::U32) => return lit_err(self, "integer"),
            (Arg::Str(..), Ty::F64) => return lit_err(self, "float"),
            (Arg::Str(..), Ty::Bool) => return lit_err(self, "bool"),
            (Arg::Num(..) | Arg::Bool(..), Ty::Str | Ty::HashAlgorithm) => {
                return lit_err(self, "string");
            }
            (Arg::Num(_, n), Ty::Int | Ty::Int64) => {
                return match n.int {
                    Some(i) => Ok(Value::Int(
                        i,
                        if ty == Ty::Int {
                            IntKind::Int
                        } else {
                            IntKind::Int64
                        },
                    )),
                    None => lit_err(self, "integer"),
                };
            }
            (Arg::Num(_, n), Ty::U32) => {
                return match n.int {
                    Some(i) if (0..=u32::MAX as i64).contains(&i) => {
                        Ok(Value::Int(i, IntKind::Int64))
                    }
                    Some(_) => self.err(a.pos(), a, format!("{} overflows uint32", n.text)),
                    None => lit_err(self, "unsigned integer"),
                };
            }
            (Arg::Num(_, n), Ty::F64) => {
                return match n.float {
                    Some(f) => Ok(Value::Float(f)),
                    None => lit_err(self, "float"),
                };
            }
            (Arg::Num(..), Ty::Bool) => return lit_err(self, "bool"),
            (Arg::Bool(_, b), Ty::Bool | Ty::Any) => return Ok(Value::Bool(*b)),
            (Arg::Bool(..), Ty::Int | Ty::Int64 | Ty::U32) => return lit_err(self, "integer"),
            (Arg::Bool(..), Ty::F64) => return lit_err(self, "float"),
            (Arg::Str(..) | Arg::Num(..) | Arg::Bool(..), _) if ty != Ty::Any => {
                return self.err(
                    a.pos(),
                    a,
                    format!("can't handle {a} for arg of type {}", ty.go_name()),
                );
            }
            _ => {}
        }
        let v = self.arg_value(dot, a)?;
        funcs::convert(v, ty).or_else(|m| self.err(a.pos(), a, m))
    }

    #[allow(clippy::too_many_arguments)]
    fn call(
        &mut self,
        dot: &Value,
        pos: usize,
        name: &str,
        f: FuncRef,
        args: &[Arg],
        fin: Option<Value>,
        c: &Cmd,
    ) -> R<Value> {
        self.step(pos, c)?;
        let nargs = args.len() + usize::from(fin.is_some());
        match f {
            FuncRef::Builtin(b) => self.call_builtin(dot, pos, name, b, args, fin, nargs, c),
            FuncRef::Lib(def) => {
                let fixed = def.params.len();
                let bad_count = match def.variadic {
                    Some(_) => nargs < fixed,
                    None => nargs != fixed,
                };
                if bad_count {
                    let want = if def.variadic.is_some() {
                        format!("at least {fixed}")
                    } else {
                        fixed.to_string()
                    };
                    return self.err(
                        pos,
                        &Arg::Func {
                            pos,
                            name: name.to_string(),
                            f,
                        },
                        format!("wrong number of args for {name}: want {want} got {nargs}"),
                    );
                }
                let mut vals = Vec::with_capacity(nargs);
                for (i, a) in args.iter().enumerate() {
                    let ty = def
                        .params
                        .get(i)
                        .copied()
                        .or(def.variadic)
                        .unwrap_or(Ty::Any);
                    vals.push(self.typed_arg(dot, a, ty)?);
                }
                if let Some(v) = fin {
                    let ty = def
                        .params
                        .get(args.len())
                        .copied()
                        .or(def.variadic)
                        .unwrap_or(Ty::Any);
                    vals.push(funcs::convert(v, ty).or_else(|m| self.err(pos, c, m))?);
                }
                if let Some(why) = funcs::unsupported::reason(name) {
                    return self.err(
                        pos,
                        c,
                        format!("function {name} is not supported by esox yet: {why}"),
                    );
                }
                if NESTS_ITS_ARGUMENTS.contains(&name) {
                    let limit = crate::value::MAX_VALUE_DEPTH - 1;
                    if vals
                        .iter()
                        .any(|v| crate::value::depth_up_to(v, limit) > limit)
                    {
                        return self.err(
                            pos,
                            c,
                            format!(
                                "error calling {name}: values may nest at most {} levels",
                                crate::value::MAX_VALUE_DEPTH
                            ),
                        );
                    }
                }
                if WALKS_ITS_ARGUMENTS.contains(&name) {
                    for v in &vals {
                        crate::value::check_walkable(v).or_else(|m| {
                            self.err(pos, c, format!("error calling {name}: cannot walk {m}"))
                        })?;
                    }
                }
                (def.f)(&vals).or_else(|m| self.err(pos, c, format!("error calling {name}: {m}")))
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn call_builtin(
        &mut self,
        dot: &Value,
        pos: usize,
        name: &str,
        b: Builtin,
        args: &[Arg],
        fin: Option<Value>,
        nargs: usize,
        c: &Cmd,
    ) -> R<Value> {
        use crate::funcs::builtins as bi;
        let (min, max): (usize, Option<usize>) = match b {
            Builtin::And | Builtin::Or | Builtin::Eq => (1, None),
            Builtin::Not | Builtin::Len => (1, Some(1)),
            Builtin::Index | Builtin::Call | Builtin::Printf => (1, None),
            Builtin::Print | Builtin::Println | Builtin::Html | Builtin::Js | Builtin::Urlquery => {
                (0, None)
            }
            Builtin::Ne | Builtin::Lt | Builtin::Le | Builtin::Gt | Builtin::Ge => (2, Some(2)),
        };
        if nargs < min || max.is_some_and(|m| nargs > m) {
            let want = match max {
                Some(m) => m.to_string(),
                None => format!("at least {min}"),
            };
            return self.err(
                pos,
                c,
                format!("wrong number of args for {name}: want {want} got {nargs}"),
            );
        }
        if matches!(b, Builtin::And | Builtin::Or) {
            let want = b == Builtin::Or;
            let mut last = Value::Nil;
            for a in args {
                last = self.arg_value(dot, a)?;
                if last.truth() == want {
                    return Ok(last);
                }
            }
            if let Some(v) = fin {
                last = v;
            }
            return Ok(last);
        }
        let mut vals = Vec::with_capacity(nargs);
        for (i, a) in args.iter().enumerate() {
            if b == Builtin::Printf && i == 0 {
                vals.push(self.typed_arg(dot, a, Ty::Str)?);
                continue;
            }
            vals.push(self.arg_value(dot, a)?);
        }
        if let Some(v) = fin {
            if b == Builtin::Printf && vals.is_empty() {
                vals.push(funcs::convert(v, Ty::Str).or_else(|m| self.err(pos, c, m))?);
            } else {
                vals.push(v);
            }
        }
        if matches!(b, Builtin::Print | Builtin::Println | Builtin::Printf) {
            for v in &vals {
                crate::value::check_walkable(v).or_else(|m| {
                    self.err(pos, c, format!("error calling {name}: cannot print {m}"))
                })?;
            }
        }
        let r = match b {
            Builtin::Not => Ok(Value::Bool(!vals[0].truth())),
            Builtin::Len => bi::len(&vals[0]),
            Builtin::Index => bi::index(&vals[0], &vals[1..]),
            Builtin::Print => Ok(Value::str(crate::printf::sprint(&vals))),
            Builtin::Println => Ok(Value::str(crate::printf::sprintln(&vals))),
            Builtin::Printf => Ok(Value::str(crate::printf::sprintf(
                funcs::s(&vals, 0),
                &vals[1..],
            ))),
            Builtin::Html => Ok(Value::str(bi::html_escape(&bi::eval_args(&vals)))),
            Builtin::Js => Ok(Value::str(bi::js_escape(&bi::eval_args(&vals)))),
            Builtin::Urlquery => Ok(Value::str(bi::query_escape(&bi::eval_args(&vals)))),
            Builtin::Call => Err(format!("non-function of type {}", vals[0].type_name())),
            Builtin::Eq => bi::eq(&vals[0], &vals[1..]).map(Value::Bool),
            Builtin::Ne => bi::eq(&vals[0], &vals[1..2]).map(|b| Value::Bool(!b)),
            Builtin::Lt => bi::lt(&vals[0], &vals[1]).map(Value::Bool),
            Builtin::Le => bi::le(&vals[0], &vals[1]).map(Value::Bool),
            Builtin::Gt => bi::le(&vals[0], &vals[1]).map(|b| Value::Bool(!b)),
            Builtin::Ge => bi::lt(&vals[0], &vals[1]).map(|b| Value::Bool(!b)),
            Builtin::And | Builtin::Or => Ok(Value::Nil),
        };
        r.or_else(|m| self.err(pos, c, format!("error calling {name}: {m}")))
    }
}

fn type_only(v: &Value) -> Value {
    // Go prints the value in this error; only the type is shown here so that
    // secret data never reaches an error message.
    Value::str(format!("<{}>", v.type_name()))
}
