//! The grammar of RFC 5228 §8.2 over the tokens: commands with their arguments, tests, test
//! lists and blocks, before any meaning is given to a name.

use crate::error::{CompileError, Position};
use crate::lexer::Token;

/// A command as written: `name arguments (";" / block)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Command {
    /// Lowercase.
    pub name: String,
    pub arguments: Vec<Argument>,
    pub tests: Vec<Test>,
    /// `{ … }`, when written with one.
    pub block: Option<Vec<Command>>,
    pub position: Position,
}

/// A test as written: `name arguments`, with its own tests for `allof`, `anyof`, `not`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Test {
    /// Lowercase.
    pub name: String,
    pub arguments: Vec<Argument>,
    pub tests: Vec<Test>,
    pub position: Position,
}

/// One argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Argument {
    /// `:name` (lowercase).
    Tag(String, Position),
    Number(u64, Position),
    /// A string, or a string list in brackets (`list` true).
    Strings {
        values: Vec<String>,
        list: bool,
        position: Position,
    },
}

impl Argument {
    pub(crate) fn position(&self) -> Position {
        match self {
            Argument::Tag(_, p) | Argument::Number(_, p) => *p,
            Argument::Strings { position, .. } => *position,
        }
    }
}

/// Reads the commands of a script, nested at most `max_nesting` deep (blocks and tests).
pub(crate) fn parse(
    tokens: Vec<(Token, Position)>,
    max_nesting: usize,
) -> Result<Vec<Command>, CompileError> {
    let end = tokens.last().map(|(_, p)| *p).unwrap_or_default();
    let mut parser = Parser {
        tokens: tokens.into_iter().peekable(),
        end,
        max_nesting,
    };
    let commands = parser.commands(0)?;
    match parser.tokens.next() {
        None => Ok(commands),
        Some((_, at)) => Err(CompileError::new(at, "'}' without its '{'")),
    }
}

struct Parser {
    tokens: std::iter::Peekable<std::vec::IntoIter<(Token, Position)>>,
    end: Position,
    max_nesting: usize,
}

impl Parser {
    fn deeper(&self, depth: usize, at: Position) -> Result<usize, CompileError> {
        if depth >= self.max_nesting {
            return Err(CompileError::new(
                at,
                format!("nested more than {} deep", self.max_nesting),
            ));
        }
        Ok(depth + 1)
    }

    /// Commands up to the end of the script or a `}` (left for the caller).
    fn commands(&mut self, depth: usize) -> Result<Vec<Command>, CompileError> {
        let mut commands = Vec::new();
        loop {
            match self.tokens.peek() {
                None | Some((Token::RightBrace, _)) => return Ok(commands),
                Some(_) => commands.push(self.command(depth)?),
            }
        }
    }

    fn command(&mut self, depth: usize) -> Result<Command, CompileError> {
        let (name, position) = match self.tokens.next() {
            Some((Token::Identifier(name), at)) => (name.to_ascii_lowercase(), at),
            Some((_, at)) => return Err(CompileError::new(at, "a command name was expected")),
            None => return Err(CompileError::new(self.end, "a command was expected")),
        };
        let (arguments, tests) = self.arguments(depth)?;
        let block = match self.tokens.next() {
            Some((Token::Semicolon, _)) => None,
            Some((Token::LeftBrace, at)) => {
                let inner = self.deeper(depth, at)?;
                let block = self.commands(inner)?;
                match self.tokens.next() {
                    Some((Token::RightBrace, _)) => Some(block),
                    _ => return Err(CompileError::new(at, "'{' without its '}'")),
                }
            }
            Some((_, at)) => {
                return Err(CompileError::new(
                    at,
                    format!("missing ';' after the command \"{name}\""),
                ));
            }
            None => {
                return Err(CompileError::new(
                    self.end,
                    format!("missing ';' after the command \"{name}\""),
                ));
            }
        };
        Ok(Command {
            name,
            arguments,
            tests,
            block,
            position,
        })
    }

    /// Arguments, then a test or a test list.
    fn arguments(&mut self, depth: usize) -> Result<(Vec<Argument>, Vec<Test>), CompileError> {
        let mut arguments = Vec::new();
        loop {
            let Some((token, at)) = self.tokens.peek().cloned() else {
                return Ok((arguments, Vec::new()));
            };
            match token {
                Token::Tag(name) => {
                    self.tokens.next();
                    arguments.push(Argument::Tag(name.to_ascii_lowercase(), at));
                }
                Token::Number(n) => {
                    self.tokens.next();
                    arguments.push(Argument::Number(n, at));
                }
                Token::String(s) => {
                    self.tokens.next();
                    arguments.push(Argument::Strings {
                        values: vec![s],
                        list: false,
                        position: at,
                    });
                }
                Token::LeftBracket => {
                    self.tokens.next();
                    arguments.push(self.string_list(at)?);
                }
                Token::Identifier(_) => {
                    let inner = self.deeper(depth, at)?;
                    return Ok((arguments, vec![self.test(inner)?]));
                }
                Token::LeftParen => {
                    self.tokens.next();
                    let inner = self.deeper(depth, at)?;
                    return Ok((arguments, self.test_list(inner, at)?));
                }
                _ => return Ok((arguments, Vec::new())),
            }
        }
    }

    fn string_list(&mut self, at: Position) -> Result<Argument, CompileError> {
        let mut values = Vec::new();
        loop {
            match self.tokens.next() {
                Some((Token::String(s), _)) => values.push(s),
                Some((_, p)) => return Err(CompileError::new(p, "a string was expected")),
                None => return Err(CompileError::new(at, "'[' without its ']'")),
            }
            match self.tokens.next() {
                Some((Token::Comma, _)) => {}
                Some((Token::RightBracket, _)) => {
                    return Ok(Argument::Strings {
                        values,
                        list: true,
                        position: at,
                    });
                }
                Some((_, p)) => return Err(CompileError::new(p, "',' or ']' was expected")),
                None => return Err(CompileError::new(at, "'[' without its ']'")),
            }
        }
    }

    fn test(&mut self, depth: usize) -> Result<Test, CompileError> {
        let (name, position) = match self.tokens.next() {
            Some((Token::Identifier(name), at)) => (name.to_ascii_lowercase(), at),
            Some((_, at)) => return Err(CompileError::new(at, "a test was expected")),
            None => return Err(CompileError::new(self.end, "a test was expected")),
        };
        let (arguments, tests) = self.arguments(depth)?;
        Ok(Test {
            name,
            arguments,
            tests,
            position,
        })
    }

    /// `( test *("," test) )`, after the `(`.
    fn test_list(&mut self, depth: usize, at: Position) -> Result<Vec<Test>, CompileError> {
        let mut tests = vec![self.test(depth)?];
        loop {
            match self.tokens.next() {
                Some((Token::Comma, _)) => tests.push(self.test(depth)?),
                Some((Token::RightParen, _)) => return Ok(tests),
                Some((_, p)) => return Err(CompileError::new(p, "',' or ')' was expected")),
                None => return Err(CompileError::new(at, "'(' without its ')'")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexer::tokenize;

    fn parsed(s: &str) -> Result<Vec<Command>, CompileError> {
        parse(tokenize(s)?, 10)
    }

    #[test]
    fn commands_tests_and_blocks() {
        let script = parsed(
            "require [\"fileinto\"];\nif anyof (header :contains \"subject\" \"x\", true) {\n  fileinto \"a\";\n} else { keep; }",
        )
        .unwrap();
        assert_eq!(script.len(), 3);
        assert_eq!(script[1].name, "if");
        assert_eq!(script[1].tests[0].name, "anyof");
        assert_eq!(script[1].tests[0].tests.len(), 2);
        assert_eq!(script[1].block.as_ref().unwrap()[0].name, "fileinto");
        assert_eq!(script[2].name, "else");
        assert_eq!(script[2].position.line, 4);
    }

    #[test]
    fn errors_say_where() {
        let e = parsed("stop;\nkeep \"x\"").unwrap_err();
        assert_eq!(e.position.line, 2);
        assert!(e.message.contains("missing ';'"), "{e}");
        assert!(parsed("if true { keep;").is_err());
        assert!(parsed("keep; }").is_err());
        assert!(parsed("if anyof (true, ) {}").is_err());
        let deep = "if ".to_owned() + &"not ".repeat(20) + "true {}";
        assert!(parsed(&deep).unwrap_err().message.contains("nested"));
    }
}
