//! Parser: tokens to a tree of nodes, following text/template/parse.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use crate::error::ParseError;
use crate::funcs::{self, FuncRef};
use crate::lexer::{Keyword, Tok, Token, unquote_body};
use crate::printf::go_quote;

#[derive(Debug)]
pub enum Node {
    Text(String),
    Action(Pipe),
    If(Control),
    With(Control),
    Range(Control),
    Template {
        pos: usize,
        name: String,
        pipe: Option<Pipe>,
    },
    Break,
    Continue,
}

#[derive(Debug)]
pub struct Control {
    pub pos: usize,
    pub pipe: Pipe,
    pub list: Vec<Node>,
    pub else_list: Option<Vec<Node>>,
}

#[derive(Debug)]
pub struct Pipe {
    pub pos: usize,
    pub is_assign: bool,
    pub decl: Vec<String>,
    pub cmds: Vec<Cmd>,
}

#[derive(Debug)]
pub struct Cmd {
    pub pos: usize,
    pub args: Vec<Arg>,
}

/// A number literal with every interpretation Go's parser records.
#[derive(Debug, Clone)]
pub struct Number {
    pub text: String,
    pub int: Option<i64>,
    pub float: Option<f64>,
    pub is_char: bool,
}

#[derive(Debug)]
pub enum Arg {
    Field {
        pos: usize,
        idents: Vec<String>,
    },
    Var {
        pos: usize,
        name: String,
        idents: Vec<String>,
    },
    Chain {
        pos: usize,
        node: Box<Arg>,
        idents: Vec<String>,
    },
    Dot(usize),
    Nil(usize),
    Bool(usize, bool),
    Num(usize, Box<Number>),
    Str(usize, String),
    Func {
        pos: usize,
        name: String,
        f: FuncRef,
    },
    Pipe(usize, Box<Pipe>),
}

impl Arg {
    pub fn pos(&self) -> usize {
        match self {
            Arg::Field { pos, .. }
            | Arg::Var { pos, .. }
            | Arg::Chain { pos, .. }
            | Arg::Dot(pos)
            | Arg::Nil(pos)
            | Arg::Bool(pos, _)
            | Arg::Num(pos, _)
            | Arg::Str(pos, _)
            | Arg::Func { pos, .. }
            | Arg::Pipe(pos, _) => *pos,
        }
    }
}

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arg::Field { idents, .. } => {
                for i in idents {
                    write!(f, ".{i}")?;
                }
                Ok(())
            }
            Arg::Var { name, idents, .. } => {
                f.write_str(name)?;
                for i in idents {
                    write!(f, ".{i}")?;
                }
                Ok(())
            }
            Arg::Chain { node, idents, .. } => {
                match node.as_ref() {
                    Arg::Pipe(..) => write!(f, "{node}")?,
                    _ => write!(f, "{node}")?,
                }
                for i in idents {
                    write!(f, ".{i}")?;
                }
                Ok(())
            }
            Arg::Dot(_) => f.write_str("."),
            Arg::Nil(_) => f.write_str("nil"),
            Arg::Bool(_, b) => write!(f, "{b}"),
            Arg::Num(_, n) => f.write_str(&n.text),
            Arg::Str(_, s) => f.write_str(&go_quote(s, false)),
            Arg::Func { name, .. } => f.write_str(name),
            Arg::Pipe(_, p) => write!(f, "({p})"),
        }
    }
}

impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{a}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Pipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.decl.is_empty() {
            f.write_str(&self.decl.join(", "))?;
            f.write_str(if self.is_assign { " = " } else { " := " })?;
        }
        for (i, c) in self.cmds.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

pub type Trees = HashMap<String, Arc<Vec<Node>>>;

/// How an item list ended.
enum ListEnd {
    Eof,
    Close(usize),
    Else(usize),
}

/// Levels of nesting the parser accepts, parentheses and controls (`if`, `with`, `range`, `block`,
/// each `else if`/`else with` of a chain) together. Go caps only parentheses, at 10,000 (1,000 on
/// WebAssembly, for its small stack), and lets goroutine stacks grow for the rest; esox recurses
/// once per level on a fixed stack, so one bound covers every kind of nesting.
pub const MAX_PARSE_DEPTH: usize = 1000;

pub struct Parser<'a> {
    toks: &'a [Token],
    i: usize,
    vars: Vec<String>,
    range_depth: usize,
    /// Current nesting, against [`MAX_PARSE_DEPTH`].
    nesting: usize,
    trees: Trees,
}

fn is_empty_tree(list: &[Node]) -> bool {
    list.iter().all(|n| match n {
        Node::Text(t) => t.trim_matches([' ', '\t', '\r', '\n']).is_empty(),
        _ => false,
    })
}

pub fn parse(main_name: &str, toks: &[Token]) -> Result<Trees, ParseError> {
    let mut p = Parser {
        toks,
        i: 0,
        vars: vec!["$".into()],
        range_depth: 0,
        nesting: 0,
        trees: HashMap::new(),
    };
    let mut root = Vec::new();
    loop {
        if let Tok::LeftDelim = p.peek().tok {
            let save = p.i;
            p.next();
            if let Tok::Kw(Keyword::Define) = p.next_non_space().tok {
                p.parse_definition()?;
                continue;
            }
            p.i = save;
        }
        match p.text_or_action(&mut root)? {
            None => {}
            Some(ListEnd::Eof) => break,
            Some(ListEnd::Close(pos)) => {
                return Err(ParseError {
                    pos,
                    msg: "unexpected {{end}}".into(),
                });
            }
            Some(ListEnd::Else(pos)) => {
                return Err(ParseError {
                    pos,
                    msg: "unexpected {{else}}".into(),
                });
            }
        }
    }
    p.add_tree(main_name, root, 0)?;
    Ok(p.trees)
}

impl<'a> Parser<'a> {
    /// Enters one level of nesting; callers call [`Parser::leave`] on success (an error ends
    /// the parse, so the count no longer matters).
    fn enter(&mut self, pos: usize) -> Result<(), ParseError> {
        if self.nesting >= MAX_PARSE_DEPTH {
            // Go's wording for parentheses, with the limit and what counts towards it.
            return self.err(
                pos,
                format!(
                    "max expression depth exceeded: more than {MAX_PARSE_DEPTH} levels of nested parentheses and if/with/range/block"
                ),
            );
        }
        self.nesting += 1;
        Ok(())
    }

    fn leave(&mut self) {
        self.nesting -= 1;
    }

    fn peek(&self) -> &Token {
        &self.toks[self.i.min(self.toks.len() - 1)]
    }
    fn next(&mut self) -> Token {
        let t = self.toks[self.i.min(self.toks.len() - 1)].clone();
        if self.i < self.toks.len() {
            self.i += 1;
        }
        t
    }
    fn next_non_space(&mut self) -> Token {
        loop {
            let t = self.next();
            if t.tok != Tok::Space {
                return t;
            }
        }
    }
    fn peek_non_space(&mut self) -> &Token {
        while self.peek().tok == Tok::Space {
            self.i += 1;
        }
        self.peek()
    }
    fn err<T>(&self, pos: usize, msg: impl Into<String>) -> Result<T, ParseError> {
        Err(ParseError {
            pos,
            msg: msg.into(),
        })
    }

    fn add_tree(&mut self, name: &str, list: Vec<Node>, pos: usize) -> Result<(), ParseError> {
        match self.trees.get(name) {
            Some(old) if !is_empty_tree(old) => {
                if !is_empty_tree(&list) {
                    return self.err(
                        pos,
                        format!(
                            "template: multiple definition of template {}",
                            go_quote(name, false)
                        ),
                    );
                }
            }
            _ => {
                self.trees.insert(name.to_string(), Arc::new(list));
            }
        }
        Ok(())
    }

    fn parse_definition(&mut self) -> Result<(), ParseError> {
        let t = self.next_non_space();
        let name = match t.tok {
            Tok::Str(s) => s,
            _ => return self.err(t.pos, "define clause: expected string; found other"),
        };
        self.expect_right_delim("define clause")?;
        let saved = std::mem::replace(&mut self.vars, vec!["$".into()]);
        let (list, end) = self.item_list()?;
        self.vars = saved;
        match end {
            ListEnd::Close(_) => {}
            ListEnd::Else(p) => return self.err(p, "unexpected {{else}} in define clause"),
            ListEnd::Eof => return self.err(t.pos, "unexpected EOF"),
        }
        self.add_tree(&name, list, t.pos)
    }

    fn expect_right_delim(&mut self, ctx: &str) -> Result<(), ParseError> {
        let t = self.next_non_space();
        if t.tok != Tok::RightDelim {
            return self.err(t.pos, format!("unexpected token in {ctx}"));
        }
        Ok(())
    }

    fn item_list(&mut self) -> Result<(Vec<Node>, ListEnd), ParseError> {
        let mut list = Vec::new();
        loop {
            if let Tok::LeftDelim = self.peek().tok {
                let save = self.i;
                self.next();
                if let Tok::Kw(Keyword::Define) = self.next_non_space().tok {
                    let p = self.toks[save].pos;
                    return self.err(p, "unexpected <define> in command");
                }
                self.i = save;
            }
            if let Some(end) = self.text_or_action(&mut list)? {
                if let ListEnd::Eof = end {
                    return self.err(self.peek().pos, "unexpected EOF");
                }
                return Ok((list, end));
            }
        }
    }

    fn text_or_action(&mut self, list: &mut Vec<Node>) -> Result<Option<ListEnd>, ParseError> {
        let t = self.next_non_space_text();
        match t.tok {
            Tok::Text(s) => {
                list.push(Node::Text(s));
                Ok(None)
            }
            Tok::LeftDelim => self.action(list),
            Tok::Eof => Ok(Some(ListEnd::Eof)),
            _ => self.err(t.pos, "unexpected token"),
        }
    }

    fn next_non_space_text(&mut self) -> Token {
        self.next()
    }

    fn action(&mut self, list: &mut Vec<Node>) -> Result<Option<ListEnd>, ParseError> {
        let t = self.next_non_space();
        match t.tok {
            Tok::Kw(Keyword::Block) => {
                list.push(self.block_control(t.pos)?);
                Ok(None)
            }
            Tok::Kw(Keyword::Break) | Tok::Kw(Keyword::Continue) => {
                let is_break = t.tok == Tok::Kw(Keyword::Break);
                let word = if is_break { "break" } else { "continue" };
                if self.range_depth == 0 {
                    return self.err(t.pos, format!("{{{{{word}}}}} outside {{{{range}}}}"));
                }
                self.expect_right_delim(word)?;
                list.push(if is_break {
                    Node::Break
                } else {
                    Node::Continue
                });
                Ok(None)
            }
            Tok::Kw(Keyword::Else) => {
                // "else if" / "else with" keep the keyword for the chained control.
                match self.peek_non_space().tok {
                    Tok::Kw(Keyword::If) | Tok::Kw(Keyword::With) => {}
                    _ => self.expect_right_delim("else")?,
                }
                Ok(Some(ListEnd::Else(t.pos)))
            }
            Tok::Kw(Keyword::End) => {
                self.expect_right_delim("end")?;
                Ok(Some(ListEnd::Close(t.pos)))
            }
            Tok::Kw(Keyword::If) => {
                let c = self.control("if", t.pos)?;
                list.push(Node::If(c));
                Ok(None)
            }
            Tok::Kw(Keyword::With) => {
                let c = self.control("with", t.pos)?;
                list.push(Node::With(c));
                Ok(None)
            }
            Tok::Kw(Keyword::Range) => {
                let c = self.control("range", t.pos)?;
                list.push(Node::Range(c));
                Ok(None)
            }
            Tok::Kw(Keyword::Template) => {
                let (name, pipe) = self.template_args("template")?;
                list.push(Node::Template {
                    pos: t.pos,
                    name,
                    pipe,
                });
                Ok(None)
            }
            Tok::Kw(Keyword::Define) => self.err(t.pos, "unexpected <define> in command"),
            _ => {
                self.i -= 1;
                let pipe = self.pipeline("command", Tok::RightDelim)?;
                list.push(Node::Action(pipe));
                Ok(None)
            }
        }
    }

    fn template_args(&mut self, ctx: &str) -> Result<(String, Option<Pipe>), ParseError> {
        let t = self.next_non_space();
        let name = match t.tok {
            Tok::Str(s) => s,
            _ => return self.err(t.pos, format!("unexpected token in {ctx} clause")),
        };
        if self.peek_non_space().tok == Tok::RightDelim {
            self.next();
            return Ok((name, None));
        }
        let pipe = self.pipeline(ctx, Tok::RightDelim)?;
        Ok((name, Some(pipe)))
    }

    fn block_control(&mut self, pos: usize) -> Result<Node, ParseError> {
        self.enter(pos)?;
        let node = self.block_body(pos)?;
        self.leave();
        Ok(node)
    }

    fn block_body(&mut self, pos: usize) -> Result<Node, ParseError> {
        let (name, pipe) = self.template_args("block")?;
        let saved_vars = std::mem::replace(&mut self.vars, vec!["$".into()]);
        let saved_depth = std::mem::replace(&mut self.range_depth, 0);
        let (list, end) = self.item_list()?;
        self.vars = saved_vars;
        self.range_depth = saved_depth;
        if !matches!(end, ListEnd::Close(_)) {
            return self.err(pos, "expected end; found else");
        }
        self.add_tree(&name, list, pos)?;
        Ok(Node::Template { pos, name, pipe })
    }

    fn control(&mut self, ctx: &str, pos: usize) -> Result<Control, ParseError> {
        self.enter(pos)?;
        let c = self.control_body(ctx, pos)?;
        self.leave();
        Ok(c)
    }

    fn control_body(&mut self, ctx: &str, pos: usize) -> Result<Control, ParseError> {
        let mark = self.vars.len();
        let pipe = self.pipeline(ctx, Tok::RightDelim)?;
        if ctx == "range" {
            self.range_depth += 1;
        }
        let (list, end) = self.item_list()?;
        if ctx == "range" {
            self.range_depth -= 1;
        }
        let else_list = match end {
            ListEnd::Close(_) => None,
            ListEnd::Else(epos) => {
                let chained = match self.peek_non_space().tok {
                    Tok::Kw(Keyword::If) if ctx == "if" => Some("if"),
                    Tok::Kw(Keyword::With) if ctx == "with" => Some("with"),
                    Tok::Kw(_) => {
                        return self.err(epos, format!("unexpected keyword after else in {ctx}"));
                    }
                    _ => None,
                };
                if let Some(kw) = chained {
                    // "{{else if}}" is an if nested in the else branch sharing the {{end}}.
                    let t = self.next();
                    let c = self.control(kw, t.pos)?;
                    Some(vec![if kw == "if" {
                        Node::If(c)
                    } else {
                        Node::With(c)
                    }])
                } else {
                    let (l, e) = self.item_list()?;
                    if !matches!(e, ListEnd::Close(_)) {
                        return self.err(epos, "expected end; found {{else}}");
                    }
                    Some(l)
                }
            }
            ListEnd::Eof => return self.err(pos, "unexpected EOF"),
        };
        self.vars.truncate(mark);
        Ok(Control {
            pos,
            pipe,
            list,
            else_list,
        })
    }

    fn pipeline(&mut self, ctx: &str, end: Tok) -> Result<Pipe, ParseError> {
        let start = self.peek_non_space().pos;
        let mut decl = Vec::new();
        let mut is_assign = false;
        // Declarations: "$x :=", "$x =", "$i, $e :=" (range only).
        if let Tok::Variable(_) = self.peek_non_space().tok {
            let save = self.i;
            let v = self.next();
            let Tok::Variable(name) = v.tok else {
                return self.err(v.pos, "expected a variable");
            };
            let nt = self.next_non_space();
            match nt.tok {
                Tok::Declare | Tok::Assign => {
                    is_assign = nt.tok == Tok::Assign;
                    if is_assign && !self.vars.contains(&name) {
                        return self.err(
                            v.pos,
                            format!("undefined variable {}", go_quote(&name, false)),
                        );
                    }
                    decl.push(name);
                }
                Tok::Comma if ctx == "range" => {
                    let v2 = self.next_non_space();
                    let Tok::Variable(name2) = v2.tok else {
                        return self.err(v2.pos, "range can only initialize variables");
                    };
                    let nt2 = self.next_non_space();
                    match nt2.tok {
                        Tok::Declare => {}
                        Tok::Assign => is_assign = true,
                        _ => return self.err(nt2.pos, "expected := or = after range variables"),
                    }
                    decl.push(name);
                    decl.push(name2);
                }
                _ => self.i = save,
            }
            if !is_assign {
                for d in &decl {
                    self.vars.push(d.clone());
                }
            }
        }
        let mut cmds = Vec::new();
        loop {
            let t = self.peek_non_space().clone();
            if t.tok == end {
                self.next();
                if cmds.is_empty() {
                    return self.err(t.pos, format!("missing value for {ctx}"));
                }
                for (i, c) in cmds.iter().enumerate().skip(1) {
                    let c: &Cmd = c;
                    if matches!(
                        c.args[0],
                        Arg::Bool(..) | Arg::Dot(_) | Arg::Nil(_) | Arg::Num(..) | Arg::Str(..)
                    ) {
                        return self.err(
                            c.pos,
                            format!("non executable command in pipeline stage {}", i + 1),
                        );
                    }
                }
                return Ok(Pipe {
                    pos: start,
                    is_assign,
                    decl,
                    cmds,
                });
            }
            match t.tok {
                Tok::Bool(_)
                | Tok::Char(_)
                | Tok::Dot
                | Tok::Field(_)
                | Tok::Ident(_)
                | Tok::Number(_)
                | Tok::Nil
                | Tok::Str(_)
                | Tok::Variable(_)
                | Tok::LParen => cmds.push(self.command()?),
                _ => return self.err(t.pos, format!("unexpected token in {ctx}")),
            }
        }
    }

    fn command(&mut self) -> Result<Cmd, ParseError> {
        let pos = self.peek_non_space().pos;
        let mut args = Vec::new();
        loop {
            self.peek_non_space();
            if let Some(op) = self.operand()? {
                args.push(op);
            }
            let t = self.next();
            match t.tok {
                Tok::Space => continue,
                Tok::RightDelim | Tok::RParen => self.i -= 1,
                Tok::Pipe => {}
                _ => return self.err(t.pos, "unexpected token in operand"),
            }
            break;
        }
        if args.is_empty() {
            return self.err(pos, "empty command");
        }
        Ok(Cmd { pos, args })
    }

    fn operand(&mut self) -> Result<Option<Arg>, ParseError> {
        let Some(node) = self.term()? else {
            return Ok(None);
        };
        if let Tok::Field(_) = self.peek().tok {
            let pos = self.peek().pos;
            let mut idents = Vec::new();
            while let Tok::Field(f) = &self.peek().tok {
                idents.push(f.clone());
                self.next();
            }
            return match node {
                Arg::Field {
                    pos,
                    idents: mut first,
                } => {
                    first.extend(idents);
                    Ok(Some(Arg::Field { pos, idents: first }))
                }
                Arg::Var {
                    pos,
                    name,
                    idents: mut first,
                } => {
                    first.extend(idents);
                    Ok(Some(Arg::Var {
                        pos,
                        name,
                        idents: first,
                    }))
                }
                Arg::Bool(..) | Arg::Str(..) | Arg::Num(..) | Arg::Nil(_) | Arg::Dot(_) => self
                    .err(
                        pos,
                        format!(
                            "unexpected . after term {}",
                            go_quote(&node.to_string(), false)
                        ),
                    ),
                other => Ok(Some(Arg::Chain {
                    pos,
                    node: Box::new(other),
                    idents,
                })),
            };
        }
        Ok(Some(node))
    }

    fn term(&mut self) -> Result<Option<Arg>, ParseError> {
        let t = self.next_non_space();
        let pos = t.pos;
        Ok(Some(match t.tok {
            Tok::Ident(name) => {
                let Some(f) = funcs::lookup(&name) else {
                    return self.err(
                        pos,
                        format!("function {} not defined", go_quote(&name, false)),
                    );
                };
                Arg::Func { pos, name, f }
            }
            Tok::Dot => Arg::Dot(pos),
            Tok::Nil => Arg::Nil(pos),
            Tok::Variable(name) => {
                if !self.vars.contains(&name) {
                    return self.err(
                        pos,
                        format!("undefined variable {}", go_quote(&name, false)),
                    );
                }
                Arg::Var {
                    pos,
                    name,
                    idents: Vec::new(),
                }
            }
            Tok::Field(f) => Arg::Field {
                pos,
                idents: vec![f],
            },
            Tok::Bool(b) => Arg::Bool(pos, b),
            Tok::Char(text) => Arg::Num(
                pos,
                Box::new(parse_char(&text).map_err(|m| ParseError { pos, msg: m })?),
            ),
            Tok::Number(text) => Arg::Num(
                pos,
                Box::new(parse_number(&text).map_err(|m| ParseError { pos, msg: m })?),
            ),
            Tok::LParen => {
                self.enter(pos)?;
                let p = self.pipeline("parenthesized pipeline", Tok::RParen)?;
                self.leave();
                Arg::Pipe(pos, Box::new(p))
            }
            Tok::Str(s) => Arg::Str(pos, s),
            _ => {
                self.i -= 1;
                return Ok(None);
            }
        }))
    }
}

fn parse_char(text: &str) -> Result<Number, String> {
    let body = &text[1..text.len() - 1];
    let s = unquote_body(body, '\'')
        .map_err(|e| format!("malformed character constant: {text}: {e}"))?;
    let mut chars = s.chars();
    let (Some(c), None) = (chars.next(), chars.next()) else {
        return Err(format!("malformed character constant: {text}"));
    };
    let v = c as i64;
    Ok(Number {
        text: text.to_string(),
        int: Some(v),
        float: Some(v as f64),
        is_char: true,
    })
}

fn parse_int_text(t: &str) -> Option<i64> {
    let (neg, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let body_nu = body.replace('_', "");
    let (radix, digits) = if let Some(r) = body_nu
        .strip_prefix("0x")
        .or_else(|| body_nu.strip_prefix("0X"))
    {
        (16, r.to_string())
    } else if let Some(r) = body_nu
        .strip_prefix("0o")
        .or_else(|| body_nu.strip_prefix("0O"))
    {
        (8, r.to_string())
    } else if let Some(r) = body_nu
        .strip_prefix("0b")
        .or_else(|| body_nu.strip_prefix("0B"))
    {
        (2, r.to_string())
    } else if body_nu.len() > 1 && body_nu.starts_with('0') {
        (8, body_nu[1..].to_string())
    } else {
        (10, body_nu.clone())
    };
    if digits.is_empty() {
        return None;
    }
    let mag = i128::from_str_radix(&digits, radix).ok()?;
    let v = if neg { -mag } else { mag };
    i64::try_from(v).ok()
}

pub fn parse_number(text: &str) -> Result<Number, String> {
    if text.ends_with('i') {
        return Err(format!(
            "complex number constants are not supported: {text}"
        ));
    }
    let bad = || format!("illegal number syntax: {}", go_quote(text, false));
    if text.contains('_') && !underscore_ok(text) {
        return Err(bad());
    }
    let int = parse_int_text(text);
    let looks_float = !text.contains(['x', 'X']) && text.contains(['.', 'e', 'E']);
    let mut float = None;
    if let Some(i) = int {
        float = Some(i as f64);
    } else if looks_float {
        let f: f64 = text.replace('_', "").parse().map_err(|_| bad())?;
        float = Some(f);
    } else if text.contains(['x', 'X']) && text.contains(['p', 'P']) {
        return Err(format!(
            "hexadecimal float constants are not supported: {text}"
        ));
    }
    let mut int = int;
    if int.is_none()
        && let Some(f) = float
    {
        if !looks_float {
            return Err(format!("integer overflow: {}", go_quote(text, false)));
        }
        if f.fract() == 0.0 && f.abs() < 9.2e18 {
            int = Some(f as i64);
        }
    }
    if int.is_none() && float.is_none() {
        return Err(bad());
    }
    Ok(Number {
        text: text.to_string(),
        int,
        float,
        is_char: false,
    })
}

/// Go's rule for digit separators: an underscore sits between digits (or
/// after a base prefix) and is followed by a digit.
fn underscore_ok(text: &str) -> bool {
    let s = text.strip_prefix(['-', '+']).unwrap_or(text).as_bytes();
    let mut saw = b'^';
    let mut i = 0;
    let mut hex = false;
    if s.len() >= 2 && s[0] == b'0' && matches!(s[1].to_ascii_lowercase(), b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = s[1].eq_ignore_ascii_case(&b'x');
    }
    while i < s.len() {
        let c = s[i];
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
        i += 1;
    }
    saw != b'_'
}
