//! The metadata filter language: parsing into a small AST and the reference
//! evaluator over one record's metadata. The index (index.rs) must agree
//! with [`Filter::matches`] exactly; the property tests hold it to that.

use serde_json::{Map, Value};

use super::scan::{check_keys, deeper_than, type_name};
use super::{MAX_DEPTH, MAX_FILTER_BYTES, MAX_FILTER_CLAUSES};
use crate::error::{KResult, KernelError};

/// A parsed metadata filter.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub(super) root: Node,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Node {
    /// `{}`: every record.
    All,
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Cond(Cond),
}

/// One operator applied to one path.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Cond {
    /// The path as written ("a.b"); the index keys paths by this text.
    pub path: String,
    pub segments: Vec<String>,
    pub op: Op,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Op {
    Eq(Scalar),
    Ne(Scalar),
    Gt(f64),
    Gte(f64),
    Lt(f64),
    Lte(f64),
    In(Vec<Scalar>),
    Nin(Vec<Scalar>),
    Exists(bool),
}

/// A value a path can be compared with. Numbers compare as f64; `-0.0` is
/// stored as `0.0` so equality and the index's total order agree.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Scalar {
    Num(f64),
    Str(String),
    Bool(bool),
}

impl Scalar {
    /// The scalar a metadata value holds, if it is one.
    pub(super) fn of(v: &Value) -> Option<Scalar> {
        match v {
            Value::Number(n) => n.as_f64().map(|f| Scalar::Num(norm_zero(f))),
            Value::String(s) => Some(Scalar::Str(s.clone())),
            Value::Bool(b) => Some(Scalar::Bool(*b)),
            _ => None,
        }
    }
}

pub(super) fn norm_zero(f: f64) -> f64 {
    if f == 0.0 {
        0.0
    } else {
        f
    }
}

impl Filter {
    /// Parses a filter in either form (`$` operators or the 0.3.1 bare
    /// `eq/gt/gte/lt/lte`). Errors are `InvalidArgument` naming the problem.
    pub fn parse(json: &str) -> KResult<Filter> {
        if json.len() > MAX_FILTER_BYTES {
            return Err(invalid(format!(
                "filter is {} bytes, limit {MAX_FILTER_BYTES}",
                json.len()
            )));
        }
        if deeper_than(json, MAX_DEPTH) {
            return Err(invalid(format!(
                "filter nesting is deeper than {MAX_DEPTH} levels"
            )));
        }
        let value: Value = serde_json::from_str(json)
            .map_err(|e| invalid(format!("filter is not valid JSON: {e}")))?;
        let Value::Object(map) = &value else {
            return Err(invalid(format!(
                "filter must be a JSON object, got {}",
                type_name(&value)
            )));
        };
        check_keys(json, None, "filter")?;
        let mut clauses = 0usize;
        let root = parse_object(map, &mut clauses)?;
        Ok(Filter { root })
    }

    /// True for `{}`, which matches every record.
    pub fn is_all(&self) -> bool {
        self.root == Node::All
    }

    /// Whether a record with this metadata matches (`None`: the record has
    /// none, so every path is absent). Metadata that is not an object has no
    /// paths either.
    pub fn matches(&self, metadata: Option<&Value>) -> bool {
        eval(&self.root, metadata)
    }
}

fn invalid(msg: String) -> KernelError {
    KernelError::InvalidArgument(msg)
}

fn count(clauses: &mut usize, n: usize) -> KResult<()> {
    *clauses += n;
    if *clauses > MAX_FILTER_CLAUSES {
        return Err(invalid(format!(
            "filter has more than {MAX_FILTER_CLAUSES} clauses ($in/$nin items included)"
        )));
    }
    Ok(())
}

/// One filter object: the AND of its keys.
fn parse_object(map: &Map<String, Value>, clauses: &mut usize) -> KResult<Node> {
    let mut parts = Vec::with_capacity(map.len());
    for (key, v) in map {
        match key.as_str() {
            "$and" | "$or" => {
                let items = match v {
                    Value::Array(items) if !items.is_empty() => items,
                    _ => {
                        return Err(invalid(format!(
                            "{key} needs a non-empty array of filter objects, got {}",
                            describe(v)
                        )))
                    }
                };
                let mut subs = Vec::with_capacity(items.len());
                for item in items {
                    let Value::Object(m) = item else {
                        return Err(invalid(format!(
                            "{key} items must be filter objects, got {}",
                            type_name(item)
                        )));
                    };
                    subs.push(parse_object(m, clauses)?);
                }
                parts.push(if key == "$and" {
                    Node::And(subs)
                } else {
                    Node::Or(subs)
                });
            }
            "$not" => {
                let Value::Object(m) = v else {
                    return Err(invalid(format!(
                        "$not needs a filter object, got {}",
                        type_name(v)
                    )));
                };
                parts.push(Node::Not(Box::new(parse_object(m, clauses)?)));
            }
            k if k.starts_with('$') => {
                return Err(invalid(format!(
                    "unknown filter operator \"{k}\" at the top of a filter object"
                )))
            }
            path => parts.extend(parse_path(path, v, clauses)?),
        }
    }
    Ok(match parts.len() {
        0 => Node::All,
        1 => parts.pop().unwrap_or(Node::All),
        _ => Node::And(parts),
    })
}

fn describe(v: &Value) -> String {
    match v {
        Value::Array(_) => "an empty array".to_string(),
        other => type_name(other).to_string(),
    }
}

/// `"<path>": <scalar>` or `"<path>": {ops}` → one condition per operator.
fn parse_path(path: &str, v: &Value, clauses: &mut usize) -> KResult<Vec<Node>> {
    let segments: Vec<String> = path.split('.').map(str::to_string).collect();
    if segments.iter().any(String::is_empty) {
        return Err(invalid(format!(
            "filter path \"{path}\" is empty or has an empty segment"
        )));
    }
    let cond = |op: Op| {
        Node::Cond(Cond {
            path: path.to_string(),
            segments: segments.clone(),
            op,
        })
    };
    let Value::Object(ops) = v else {
        count(clauses, 1)?;
        return Ok(vec![cond(Op::Eq(operand_scalar("$eq", v, path)?))]);
    };
    if ops.is_empty() {
        return Err(invalid(format!(
            "filter value at \"{path}\" is an object with no operators"
        )));
    }
    let dollar = ops.keys().filter(|k| k.starts_with('$')).count();
    if dollar != 0 && dollar != ops.len() {
        return Err(invalid(format!(
            "filter at \"{path}\" mixes $ operators with plain keys"
        )));
    }
    let mut nodes = Vec::with_capacity(ops.len());
    for (name, operand) in ops {
        // The 0.3.1 form spells five operators without the `$`.
        let op_name = match name.as_str() {
            "eq" | "gt" | "gte" | "lt" | "lte" => format!("${name}"),
            other => other.to_string(),
        };
        count(clauses, 1)?;
        let op = match op_name.as_str() {
            "$eq" => Op::Eq(operand_scalar("$eq", operand, path)?),
            "$ne" => Op::Ne(operand_scalar("$ne", operand, path)?),
            "$gt" => Op::Gt(operand_number("$gt", operand, path)?),
            "$gte" => Op::Gte(operand_number("$gte", operand, path)?),
            "$lt" => Op::Lt(operand_number("$lt", operand, path)?),
            "$lte" => Op::Lte(operand_number("$lte", operand, path)?),
            "$in" => Op::In(operand_list("$in", operand, path, clauses)?),
            "$nin" => Op::Nin(operand_list("$nin", operand, path, clauses)?),
            "$exists" => match operand {
                Value::Bool(b) => Op::Exists(*b),
                other => {
                    return Err(invalid(format!(
                        "$exists needs a boolean, got {} at \"{path}\"",
                        type_name(other)
                    )))
                }
            },
            _ => {
                return Err(invalid(format!(
                    "unknown filter operator \"{name}\" at \"{path}\""
                )))
            }
        };
        nodes.push(cond(op));
    }
    Ok(nodes)
}

fn operand_scalar(op: &str, v: &Value, path: &str) -> KResult<Scalar> {
    Scalar::of(v).ok_or_else(|| {
        invalid(format!(
            "{op} needs a number, string or boolean, got {} at \"{path}\"",
            type_name(v)
        ))
    })
}

fn operand_number(op: &str, v: &Value, path: &str) -> KResult<f64> {
    match v.as_f64() {
        Some(f) => Ok(norm_zero(f)),
        None => Err(invalid(format!(
            "{op} needs a number, got {} at \"{path}\"",
            type_name(v)
        ))),
    }
}

fn operand_list(op: &str, v: &Value, path: &str, clauses: &mut usize) -> KResult<Vec<Scalar>> {
    let Value::Array(items) = v else {
        return Err(invalid(format!(
            "{op} needs an array, got {} at \"{path}\"",
            type_name(v)
        )));
    };
    count(clauses, items.len())?;
    items
        .iter()
        .map(|item| {
            Scalar::of(item).ok_or_else(|| {
                invalid(format!(
                    "{op} items must be numbers, strings or booleans, got {} at \"{path}\"",
                    type_name(item)
                ))
            })
        })
        .collect()
}

fn eval(node: &Node, meta: Option<&Value>) -> bool {
    match node {
        Node::All => true,
        Node::And(subs) => subs.iter().all(|s| eval(s, meta)),
        Node::Or(subs) => subs.iter().any(|s| eval(s, meta)),
        Node::Not(sub) => !eval(sub, meta),
        Node::Cond(c) => eval_cond(c, meta),
    }
}

/// The value at `segments`, walking through objects only.
fn resolve<'a>(meta: Option<&'a Value>, segments: &[String]) -> Option<&'a Value> {
    let mut cur = meta?;
    for seg in segments {
        cur = cur.as_object()?.get(seg)?;
    }
    Some(cur)
}

/// `values(path)`: an array's scalar elements, a scalar itself, else nothing.
fn values(v: &Value) -> Vec<Scalar> {
    match v {
        Value::Array(items) => items.iter().filter_map(Scalar::of).collect(),
        other => Scalar::of(other).into_iter().collect(),
    }
}

fn eval_cond(c: &Cond, meta: Option<&Value>) -> bool {
    let found = resolve(meta, &c.segments);
    let vals = found.map(values).unwrap_or_default();
    let any_num =
        |pred: &dyn Fn(f64) -> bool| vals.iter().any(|s| matches!(s, Scalar::Num(x) if pred(*x)));
    match &c.op {
        Op::Eq(s) => vals.contains(s),
        Op::Ne(s) => found.is_some() && !vals.contains(s),
        Op::Gt(n) => any_num(&|x| x > *n),
        Op::Gte(n) => any_num(&|x| x >= *n),
        Op::Lt(n) => any_num(&|x| x < *n),
        Op::Lte(n) => any_num(&|x| x <= *n),
        Op::In(list) => vals.iter().any(|s| list.contains(s)),
        Op::Nin(list) => found.is_some() && !vals.iter().any(|s| list.contains(s)),
        Op::Exists(b) => found.is_some() == *b,
    }
}
