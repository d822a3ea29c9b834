//! The value functions (`Fn::Select`, `Fn::Split`, `Fn::Join`, `Fn::Sub`, `Fn::FindInMap`,
//! `Fn::Base64`, `Fn::GetAZs`), each checking its arguments' shape.

use serde_json::{Map, Value, json};

use super::{At, EvalError, Evaluator, Physical, scalar, text};

impl Evaluator<'_> {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn value_function(
        &self,
        key: &str,
        arg: &Value,
        args: &[Value],
        at: At<'_>,
        physical: &Physical<'_>,
        depth: usize,
    ) -> Result<Value, EvalError> {
        match key {
            "Fn::Select" => {
                let [index, list] = args else {
                    return Err(at.error("Fn::Select takes [index, list]"));
                };
                let index = text(&self.required(index, at, physical, depth)?)
                    .parse::<usize>()
                    .map_err(|_| at.error("Fn::Select's index is not a number"))?;
                let list = self.required(list, at, physical, depth)?;
                let items = list
                    .as_array()
                    .ok_or_else(|| at.error("Fn::Select of a non-list"))?;
                items.get(index).cloned().ok_or_else(|| {
                    at.error(format!(
                        "Fn::Select index {index} of a list of {}",
                        items.len()
                    ))
                })
            }
            "Fn::Split" => {
                let [Value::String(separator), source] = args else {
                    return Err(at.error("Fn::Split takes [separator, text]"));
                };
                let source = scalar(&self.required(source, at, physical, depth)?, at)?;
                Ok(json!(source.split(separator.as_str()).collect::<Vec<_>>()))
            }
            "Fn::Join" => {
                let [Value::String(separator), list] = args else {
                    return Err(at.error("Fn::Join takes [separator, list]"));
                };
                let list = self.required(list, at, physical, depth)?;
                let items = list
                    .as_array()
                    .ok_or_else(|| at.error("Fn::Join of a non-list"))?;
                let parts: Result<Vec<String>, EvalError> =
                    items.iter().map(|v| scalar(v, at)).collect();
                Ok(Value::String(parts?.join(separator)))
            }
            "Fn::Sub" => {
                let (pattern, locals) = match arg {
                    Value::String(s) => (s.clone(), Map::new()),
                    _ => match args {
                        [Value::String(s), locals] => {
                            let locals = self.required(locals, at, physical, depth)?;
                            let locals = locals
                                .as_object()
                                .cloned()
                                .ok_or_else(|| at.error("Fn::Sub's variables are not a map"))?;
                            (s.clone(), locals)
                        }
                        _ => return Err(at.error("Fn::Sub takes a string or [string, variables]")),
                    },
                };
                self.substitute(&pattern, &locals, at, physical, depth)
                    .map(Value::String)
            }
            "Fn::FindInMap" => {
                let [map, top, second] = args else {
                    return Err(at.error("Fn::FindInMap takes [map, key, key]"));
                };
                let keys = [map, top, second].map(|k| {
                    self.required(k, at, physical, depth)
                        .and_then(|v| scalar(&v, at))
                });
                let [map, top, second] = keys;
                let (map, top, second) = (map?, top?, second?);
                self.template
                    .get("Mappings")
                    .and_then(|m| m.get(&map))
                    .ok_or_else(|| at.error(format!("no mapping `{map}`")))?
                    .get(&top)
                    .and_then(|t| t.get(&second))
                    .cloned()
                    .ok_or_else(|| at.error(format!("mapping `{map}` has no {top}.{second}")))
            }
            "Fn::Base64" => self.required(arg, at, physical, depth),
            "Fn::GetAZs" => Ok(Value::Array(
                ["a", "b", "c"]
                    .iter()
                    .map(|z| Value::String(format!("{}{z}", self.pseudo.region)))
                    .collect(),
            )),
            _ => unreachable!("value functions are listed by the caller"),
        }
    }

    fn substitute(
        &self,
        pattern: &str,
        locals: &Map<String, Value>,
        at: At<'_>,
        physical: &Physical<'_>,
        depth: usize,
    ) -> Result<String, EvalError> {
        let mut out = String::with_capacity(pattern.len());
        let mut rest = pattern;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| at.error("an unclosed ${ in Fn::Sub"))?;
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str(&format!("${{{literal}}}"));
            } else if let Some(v) = locals.get(name) {
                out.push_str(&scalar(v, at)?);
            } else if let Some((resource, attribute)) = name.split_once('.')
                && !name.starts_with("AWS::")
            {
                out.push_str(&scalar(
                    &self.attribute(resource, attribute, at, physical, depth)?,
                    at,
                )?);
            } else {
                let value = self
                    .reference(name, at, physical, depth)?
                    .ok_or_else(|| at.error("AWS::NoValue inside Fn::Sub"))?;
                out.push_str(&scalar(&value, at)?);
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}
