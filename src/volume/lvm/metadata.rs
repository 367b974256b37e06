//! The LVM2 text metadata format (lvm2 `lib/format_text/`, the libdm
//! config grammar it is written in).
//!
//! A metadata text is a list of items; an item is `name = value` or a
//! section `name { items }`. Values are integers, floats, double-quoted
//! strings with backslash escapes, or `[ value, value, … ]` arrays of
//! scalars. `#` starts a comment that runs to the end of the line.
//!
//! The tokenizer and the recursive-descent parser are bounded: the text
//! is at most [`MAX_TEXT_BYTES`], sections nest at most [`MAX_DEPTH`]
//! deep and there are at most [`MAX_NODES`] items in all, so damaged or
//! hostile text gives a sentence, never a stack overflow or an unbounded
//! allocation.

use crate::error::{Error, Result};

/// Bigger than any real VG's metadata (lvm2's own default area is 1 MiB).
pub const MAX_TEXT_BYTES: usize = 16 << 20;
/// VG → logical_volumes → lv → segment is depth 4; leave room.
pub const MAX_DEPTH: usize = 16;
/// Items (values, sections) in one text.
pub const MAX_NODES: usize = 1_000_000;

/// A value on the right of `=`.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Int(i64),
    Float(f64),
    Str(String),
    Array(Vec<Value>),
}

/// A section's items, in text order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Section {
    pub items: Vec<(String, Item)>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    Value(Value),
    Section(Section),
}

impl Section {
    pub fn get(&self, key: &str) -> Option<&Item> {
        self.items.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
    pub fn section(&self, key: &str) -> Option<&Section> {
        match self.get(key)? {
            Item::Section(s) => Some(s),
            Item::Value(_) => None,
        }
    }
    pub fn value(&self, key: &str) -> Option<&Value> {
        match self.get(key)? {
            Item::Value(v) => Some(v),
            Item::Section(_) => None,
        }
    }
    pub fn int(&self, key: &str) -> Option<i64> {
        match self.value(key)? {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
    pub fn str(&self, key: &str) -> Option<&str> {
        match self.value(key)? {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn array(&self, key: &str) -> Option<&[Value]> {
        match self.value(key)? {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }
    /// The strings of an array value (`status = ["READ", "WRITE"]`).
    pub fn strings(&self, key: &str) -> Vec<&str> {
        self.array(key)
            .map(|a| a.iter().filter_map(|v| if let Value::Str(s) = v { Some(s.as_str()) } else { None }).collect())
            .unwrap_or_default()
    }
    /// The sub-sections, in order.
    pub fn sections(&self) -> impl Iterator<Item = (&str, &Section)> {
        self.items.iter().filter_map(|(k, v)| if let Item::Section(s) = v { Some((k.as_str(), s)) } else { None })
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Word(String),
    Str(String),
    Open,
    Close,
    ArrayOpen,
    ArrayClose,
    Equals,
    Comma,
}

struct Lexer<'a> {
    text: &'a [u8],
    pos: usize,
    line: usize,
}

impl Lexer<'_> {
    fn err(&self, what: impl std::fmt::Display) -> Error {
        Error::corrupt(format!("LVM metadata text, line {}: {what}", self.line))
    }

    fn next(&mut self) -> Result<Option<Token>> {
        loop {
            let Some(&c) = self.text.get(self.pos) else { return Ok(None) };
            match c {
                b'\n' => {
                    self.line = self.line.saturating_add(1);
                    self.pos += 1;
                }
                b' ' | b'\t' | b'\r' => self.pos += 1,
                b'#' => {
                    while self.text.get(self.pos).is_some_and(|c| *c != b'\n') {
                        self.pos += 1;
                    }
                }
                _ => break,
            }
        }
        let c = self.text[self.pos];
        let single = match c {
            b'{' => Some(Token::Open),
            b'}' => Some(Token::Close),
            b'[' => Some(Token::ArrayOpen),
            b']' => Some(Token::ArrayClose),
            b'=' => Some(Token::Equals),
            b',' => Some(Token::Comma),
            _ => None,
        };
        if let Some(t) = single {
            self.pos += 1;
            return Ok(Some(t));
        }
        if c == b'"' || c == b'\'' {
            self.pos += 1;
            let mut s = Vec::new();
            loop {
                let Some(&b) = self.text.get(self.pos) else { return Err(self.err("a string is not closed")) };
                self.pos += 1;
                match b {
                    b'\\' => {
                        let Some(&e) = self.text.get(self.pos) else { return Err(self.err("a string is not closed")) };
                        self.pos += 1;
                        s.push(e);
                    }
                    b'\n' => {
                        self.line = self.line.saturating_add(1);
                        s.push(b);
                    }
                    _ if b == c => break,
                    _ => s.push(b),
                }
            }
            return Ok(Some(Token::Str(String::from_utf8_lossy(&s).into_owned())));
        }
        let start = self.pos;
        while let Some(&b) = self.text.get(self.pos) {
            if b.is_ascii_whitespace() || b"{}[]=,\"'#".contains(&b) {
                break;
            }
            if b < 0x20 {
                return Err(self.err(format!("byte {b:#04x} is not text")));
            }
            self.pos += 1;
        }
        Ok(Some(Token::Word(String::from_utf8_lossy(&self.text[start..self.pos]).into_owned())))
    }
}

struct Parser<'a> {
    lex: Lexer<'a>,
    peeked: Option<Token>,
    nodes: usize,
}

impl Parser<'_> {
    fn peek(&mut self) -> Result<Option<&Token>> {
        if self.peeked.is_none() {
            self.peeked = self.lex.next()?;
        }
        Ok(self.peeked.as_ref())
    }
    fn take(&mut self) -> Result<Option<Token>> {
        match self.peeked.take() {
            Some(t) => Ok(Some(t)),
            None => self.lex.next(),
        }
    }
    fn count(&mut self) -> Result<()> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(self.lex.err(format!("more than {MAX_NODES} items")));
        }
        Ok(())
    }

    /// Items until `}` (nested) or the end (top level).
    fn items(&mut self, depth: usize) -> Result<Section> {
        if depth > MAX_DEPTH {
            return Err(self.lex.err(format!("sections nest more than {MAX_DEPTH} deep")));
        }
        let mut out = Section::default();
        loop {
            let name = match self.take()? {
                None if depth == 0 => return Ok(out),
                None => return Err(self.lex.err("a section is not closed")),
                Some(Token::Close) if depth > 0 => return Ok(out),
                Some(Token::Word(w)) => w,
                Some(Token::Str(w)) => w,
                Some(t) => return Err(self.lex.err(format!("expected a name, found {}", describe(&t)))),
            };
            self.count()?;
            match self.take()? {
                Some(Token::Open) => {
                    let s = self.items(depth + 1)?;
                    out.items.push((name, Item::Section(s)));
                }
                Some(Token::Equals) => {
                    let v = self.value(true)?;
                    out.items.push((name, Item::Value(v)));
                }
                Some(t) => return Err(self.lex.err(format!("expected = or {{ after {name:?}, found {}", describe(&t)))),
                None => return Err(self.lex.err(format!("the text ends after {name:?}"))),
            }
        }
    }

    fn value(&mut self, array_allowed: bool) -> Result<Value> {
        match self.take()? {
            Some(Token::Str(s)) => Ok(Value::Str(s)),
            Some(Token::Word(w)) => word_value(&w).ok_or_else(|| self.lex.err(format!("{w:?} is not a value"))),
            Some(Token::ArrayOpen) if array_allowed => {
                let mut items = Vec::new();
                if matches!(self.peek()?, Some(Token::ArrayClose)) {
                    self.take()?;
                    return Ok(Value::Array(items));
                }
                loop {
                    self.count()?;
                    items.push(self.value(false)?);
                    match self.take()? {
                        Some(Token::Comma) => {}
                        Some(Token::ArrayClose) => return Ok(Value::Array(items)),
                        Some(t) => return Err(self.lex.err(format!("expected , or ] in an array, found {}", describe(&t)))),
                        None => return Err(self.lex.err("an array is not closed")),
                    }
                }
            }
            Some(t) => Err(self.lex.err(format!("expected a value, found {}", describe(&t)))),
            None => Err(self.lex.err("the text ends where a value should be")),
        }
    }
}

fn word_value(w: &str) -> Option<Value> {
    if let Ok(i) = w.parse::<i64>() {
        return Some(Value::Int(i));
    }
    if w.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+' || c == '.') {
        return w.parse::<f64>().ok().map(Value::Float);
    }
    None
}

fn describe(t: &Token) -> String {
    match t {
        Token::Word(w) => format!("{w:?}"),
        Token::Str(s) => format!("the string {s:?}"),
        Token::Open => "{".into(),
        Token::Close => "}".into(),
        Token::ArrayOpen => "[".into(),
        Token::ArrayClose => "]".into(),
        Token::Equals => "=".into(),
        Token::Comma => ",".into(),
    }
}

/// Parses a whole metadata text (up to its first NUL byte).
pub fn parse(text: &[u8]) -> Result<Section> {
    let end = text.iter().position(|b| *b == 0).unwrap_or(text.len());
    if end > MAX_TEXT_BYTES {
        return Err(Error::corrupt(format!("LVM metadata text is {end} bytes, more than the {MAX_TEXT_BYTES} allowed")));
    }
    let mut p = Parser { lex: Lexer { text: &text[..end], pos: 0, line: 1 }, peeked: None, nodes: 0 };
    p.items(0)
}


#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"vg0 {
id = "abc"
seqno = 3	# a comment
status = ["RESIZEABLE", "READ", "WRITE"]
flags = []
extent_size = 8192
logical_volumes {
root {
segment1 {
stripes = [
"pv0", 0,
"pv1", 7
]
}
}
}
}
contents = "Text Format Volume Group"
description = "say \"hi\""
ratio = 1.5
"#;

    #[test]
    fn parses_the_grammar() {
        let top = parse(SAMPLE.as_bytes()).unwrap();
        let vg = top.section("vg0").unwrap();
        assert_eq!(vg.int("seqno"), Some(3));
        assert_eq!(vg.strings("status"), ["RESIZEABLE", "READ", "WRITE"]);
        assert_eq!(vg.array("flags"), Some(&[][..]));
        let seg = vg.section("logical_volumes").unwrap().section("root").unwrap().section("segment1").unwrap();
        assert_eq!(seg.array("stripes").unwrap()[3], Value::Int(7));
        assert_eq!(top.str("description"), Some("say \"hi\""));
        assert_eq!(top.value("ratio"), Some(&Value::Float(1.5)));
    }

    #[test]
    fn damage_gives_sentences() {
        let cut = &SAMPLE.as_bytes()[..60];
        assert_eq!(parse(cut).unwrap_err().to_string(), "LVM metadata text, line 4: a string is not closed");
        assert_eq!(parse(b"a = = 3").unwrap_err().to_string(), "LVM metadata text, line 1: expected a value, found =");
        assert_eq!(parse(b"a {\n b = [[1]]\n}").unwrap_err().to_string(), "LVM metadata text, line 2: expected a value, found [");
        let deep = "a {".repeat(100);
        assert_eq!(parse(deep.as_bytes()).unwrap_err().to_string(), "LVM metadata text, line 1: sections nest more than 16 deep");
        assert!(parse(b"x = \"open").is_err());
        assert!(parse(b"}").is_err());
    }
}
