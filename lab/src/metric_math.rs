//! The part of CloudWatch metric math the stack's alarms use, evaluated per period, because the
//! emulator returns nothing for an expression: numbers, query ids, `+ - * /`, comparisons (1 or 0)
//! `IF(condition, then, else)`, `FILL(series, value)`, `SQRT(x)` and `MAX([a, b, ...])` / `MIN([...])` of
//! series (per period, over those with a datapoint). Anything else is an error that names it, never
//! a silent 0.

use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Num(f64),
    Id(String),
    Neg(Box<Expr>),
    Bin(Box<Expr>, Op, Box<Expr>),
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `FILL(series, value)`: the value where the series has no datapoint.
    Fill(Box<Expr>, Box<Expr>),
    /// `SQRT(x)`.
    Sqrt(Box<Expr>),
    /// `MAX([...])` (`true`) or `MIN([...])` of an array of series: per period, of those with a
    /// datapoint there; none has one → none.
    Extreme(bool, Vec<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
    Ne,
}

pub fn parse(text: &str) -> Result<Expr, String> {
    let tokens = tokenize(text)?;
    let mut p = Parser { tokens, pos: 0 };
    let e = p.comparison()?;
    match p.tokens.get(p.pos) {
        None => Ok(e),
        Some(t) => Err(format!("metric math `{text}`: unexpected `{t}`")),
    }
}

impl Expr {
    /// The ids the expression reads.
    pub fn ids(&self) -> Vec<String> {
        match self {
            Expr::Num(_) => vec![],
            Expr::Id(id) => vec![id.clone()],
            Expr::Neg(e) => e.ids(),
            Expr::Bin(a, _, b) => [a.ids(), b.ids()].concat(),
            Expr::If(c, a, b) => [c.ids(), a.ids(), b.ids()].concat(),
            Expr::Fill(a, b) => [a.ids(), b.ids()].concat(),
            Expr::Extreme(_, items) => items.iter().flat_map(Expr::ids).collect(),
            Expr::Sqrt(e) => e.ids(),
        }
    }

    /// The value for one period; `None` (no datapoint) when an id it reads has none there or
    /// the result is not a finite number.
    pub fn eval(&self, vars: &HashMap<String, Option<f64>>) -> Option<f64> {
        let v = match self {
            Expr::Num(n) => *n,
            Expr::Id(id) => (*vars.get(id)?)?,
            Expr::Neg(e) => -e.eval(vars)?,
            Expr::If(c, a, b) => {
                if c.eval(vars)? != 0.0 {
                    a.eval(vars)?
                } else {
                    b.eval(vars)?
                }
            }
            Expr::Fill(a, b) => a.eval(vars).or_else(|| b.eval(vars))?,
            Expr::Sqrt(e) => e.eval(vars)?.sqrt(),
            Expr::Extreme(max, items) => items
                .iter()
                .filter_map(|e| e.eval(vars))
                .reduce(|a, b| if *max { a.max(b) } else { a.min(b) })?,
            Expr::Bin(a, op, b) => {
                let (x, y) = (a.eval(vars)?, b.eval(vars)?);
                let truth = |t: bool| if t { 1.0 } else { 0.0 };
                match op {
                    Op::Add => x + y,
                    Op::Sub => x - y,
                    Op::Mul => x * y,
                    Op::Div => x / y,
                    Op::Gt => truth(x > y),
                    Op::Ge => truth(x >= y),
                    Op::Lt => truth(x < y),
                    Op::Le => truth(x <= y),
                    Op::Eq => truth(x == y),
                    Op::Ne => truth(x != y),
                }
            }
        };
        v.is_finite().then_some(v)
    }
}

fn tokenize(text: &str) -> Result<Vec<String>, String> {
    let mut tokens = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || "_.".contains(chars[i])) {
                i += 1;
            }
            tokens.push(chars[start..i].iter().collect());
        } else if "<>=!".contains(c) && chars.get(i + 1) == Some(&'=') {
            tokens.push(format!("{c}="));
            i += 2;
        } else if "+-*/()<>,[]".contains(c) {
            tokens.push(c.to_string());
            i += 1;
        } else {
            return Err(format!("metric math `{text}`: unexpected `{c}`"));
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<String>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&str> {
        self.tokens.get(self.pos).map(String::as_str)
    }

    fn next(&mut self) -> Result<String, String> {
        let t = self
            .tokens
            .get(self.pos)
            .cloned()
            .ok_or("metric math: unexpected end")?;
        self.pos += 1;
        Ok(t)
    }

    fn expect(&mut self, want: &str) -> Result<(), String> {
        match self.next()? {
            t if t == want => Ok(()),
            t => Err(format!("metric math: expected `{want}`, found `{t}`")),
        }
    }

    /// `a, b, ...`: one or more expressions.
    fn list(&mut self) -> Result<Vec<Expr>, String> {
        let mut items = vec![self.comparison()?];
        while self.peek() == Some(",") {
            self.pos += 1;
            items.push(self.comparison()?);
        }
        Ok(items)
    }

    fn comparison(&mut self) -> Result<Expr, String> {
        let left = self.sum()?;
        let op = match self.peek() {
            Some(">") => Op::Gt,
            Some(">=") => Op::Ge,
            Some("<") => Op::Lt,
            Some("<=") => Op::Le,
            Some("==") => Op::Eq,
            Some("!=") => Op::Ne,
            _ => return Ok(left),
        };
        self.pos += 1;
        Ok(Expr::Bin(Box::new(left), op, Box::new(self.sum()?)))
    }

    fn sum(&mut self) -> Result<Expr, String> {
        let mut e = self.product()?;
        while let Some(op) = match self.peek() {
            Some("+") => Some(Op::Add),
            Some("-") => Some(Op::Sub),
            _ => None,
        } {
            self.pos += 1;
            e = Expr::Bin(Box::new(e), op, Box::new(self.product()?));
        }
        Ok(e)
    }

    fn product(&mut self) -> Result<Expr, String> {
        let mut e = self.unary()?;
        while let Some(op) = match self.peek() {
            Some("*") => Some(Op::Mul),
            Some("/") => Some(Op::Div),
            _ => None,
        } {
            self.pos += 1;
            e = Expr::Bin(Box::new(e), op, Box::new(self.unary()?));
        }
        Ok(e)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.peek() == Some("-") {
            self.pos += 1;
            return Ok(Expr::Neg(Box::new(self.unary()?)));
        }
        let t = self.next()?;
        if t == "(" {
            let e = self.comparison()?;
            self.expect(")")?;
            return Ok(e);
        }
        if let Ok(n) = t.parse::<f64>() {
            return Ok(Expr::Num(n));
        }
        if !t.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return Err(format!("metric math: unexpected `{t}`"));
        }
        if self.peek() != Some("(") {
            return Ok(Expr::Id(t));
        }
        self.pos += 1;
        if self.peek() == Some("[") {
            self.pos += 1;
            let items = self.list()?;
            self.expect("]")?;
            self.expect(")")?;
            return match t.to_ascii_uppercase().as_str() {
                "MAX" => Ok(Expr::Extreme(true, items)),
                "MIN" => Ok(Expr::Extreme(false, items)),
                name => Err(format!(
                    "metric math: function {name} of an array is not supported by the lab"
                )),
            };
        }
        let args = self.list()?;
        self.expect(")")?;
        match (t.to_ascii_uppercase().as_str(), args.len()) {
            ("IF", 3) => {
                let mut a = args.into_iter();
                let (c, x, y) = (a.next().unwrap(), a.next().unwrap(), a.next().unwrap());
                Ok(Expr::If(Box::new(c), Box::new(x), Box::new(y)))
            }
            ("SQRT", 1) => Ok(Expr::Sqrt(Box::new(args.into_iter().next().unwrap()))),
            ("FILL", 2) => {
                let mut a = args.into_iter();
                let (x, v) = (a.next().unwrap(), a.next().unwrap());
                Ok(Expr::Fill(Box::new(x), Box::new(v)))
            }
            (name, n) => Err(format!(
                "metric math: function {name} with {n} arguments is not supported by the lab"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, Option<f64>)]) -> HashMap<String, Option<f64>> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn the_stacks_error_rate_expression() {
        let e = parse("IF(requests > 0, 100 * errors / requests, 0)").unwrap();
        assert_eq!(e.ids(), ["requests", "errors", "requests"]);
        let rate = |r, x| e.eval(&vars(&[("requests", r), ("errors", x)]));
        assert_eq!(rate(Some(200.0), Some(30.0)), Some(15.0));
        assert_eq!(rate(Some(0.0), Some(0.0)), Some(0.0));
        assert_eq!(rate(None, Some(1.0)), None);
    }

    #[test]
    fn the_stacks_error_rate_expression_with_a_minimum_and_connection_errors() {
        let e = parse(
            "IF(requests >= 50, 100 * (FILL(errors, 0) + FILL(connection_errors, 0)) / requests, 0)",
        )
        .unwrap();
        let rate = |r, x, c| {
            e.eval(&vars(&[
                ("requests", r),
                ("errors", x),
                ("connection_errors", c),
            ]))
        };
        assert_eq!(rate(Some(100.0), Some(5.0), None), Some(5.0));
        assert_eq!(rate(Some(100.0), None, Some(10.0)), Some(10.0));
        assert_eq!(rate(Some(49.0), Some(49.0), None), Some(0.0));
        assert_eq!(rate(None, Some(1.0), None), None);
    }

    #[test]
    fn precedence_comparisons_and_negation() {
        let e = parse("-2 + 3 * (4 - 1) >= 7").unwrap();
        assert_eq!(e.eval(&HashMap::new()), Some(1.0));
        let e = parse("IF(n >= 50, e / n, 0) * 100").unwrap();
        assert_eq!(
            e.eval(&vars(&[("n", Some(40.0)), ("e", Some(4.0))])),
            Some(0.0)
        );
        assert_eq!(
            e.eval(&vars(&[("n", Some(50.0)), ("e", Some(5.0))])),
            Some(10.0)
        );
        assert_eq!(parse("1/0").unwrap().eval(&HashMap::new()), None);
    }

    #[test]
    fn the_stacks_latency_excess_expression() {
        let e = parse(
            "IF(requests >= 10, MAX([canary - (1.5 * FILL(stable, 1000) + 0.1), canary - 1.5]), 0)",
        )
        .unwrap();
        let excess = |r, canary, stable| {
            e.eval(&vars(&[
                ("requests", r),
                ("canary", canary),
                ("stable", stable),
            ]))
            .map(|x: f64| (x * 1000.0).round() / 1000.0)
        };
        // 400 ms slower than a 20 ms stable: 0.4 - 0.13 above its allowance.
        assert_eq!(excess(Some(40.0), Some(0.42), Some(0.02)), Some(0.29));
        // As slow as stable: below.
        assert_eq!(excess(Some(40.0), Some(0.021), Some(0.02)), Some(-0.109));
        // No stable data: only the ceiling counts.
        assert_eq!(excess(Some(40.0), Some(1.6), None), Some(0.1));
        // Too few requests: 0; no canary data: none.
        assert_eq!(excess(Some(9.0), Some(3.0), Some(0.02)), Some(0.0));
        assert_eq!(excess(Some(40.0), None, Some(0.02)), None);
        assert_eq!(
            parse("MIN([a, b])")
                .unwrap()
                .eval(&vars(&[("a", None), ("b", Some(2.0))])),
            Some(2.0)
        );
    }

    #[test]
    fn the_stacks_error_excess_expression() {
        let e = parse(
            "IF(requests >= 10, (FILL(errors, 0) + FILL(connection_errors, 0) - requests * 5 / 100) \
             / SQRT(requests * 5 / 100 * (1 - 5 / 100)), 0)",
        )
        .unwrap();
        let z = |r, x| {
            e.eval(&vars(&[
                ("requests", r),
                ("errors", x),
                ("connection_errors", None),
            ]))
        };
        // 40 requests at the 5 % threshold expect 2 errors, sd 1.38: 6 errors is z 2.90.
        assert!((z(Some(40.0), Some(6.0)).unwrap() - 2.902).abs() < 0.001);
        assert!(z(Some(40.0), Some(5.0)).unwrap() < 2.33);
        assert_eq!(z(Some(9.0), Some(9.0)), Some(0.0));
        assert!(z(Some(40.0), None).unwrap() < 0.0);
    }

    #[test]
    fn what_is_not_understood_is_an_error() {
        assert!(parse("SUM([x, y])").unwrap_err().contains("SUM"));
        assert!(parse("MAX([x, y)").is_err());
        assert!(parse("RATE(x)").unwrap_err().contains("RATE"));
        assert!(parse("x +").is_err());
        assert!(parse("x # y").is_err());
        assert!(parse("(x").is_err());
    }
}
