//! Workflows: `chain`, `group` and `chord` over task signatures, nested freely.
//!
//! A workflow runs as one coordinator task (see the README, "Workflows"). Its payload is
//! the workflow's spec; whenever one of its members finishes, the coordinator asks
//! [`Workflow::plan`] what follows from the outcomes so far: which members to start now
//! (each under an idempotency key derived from the workflow id and the member's number,
//! so that starting one twice — a coordinator re-run after its worker died — finds the
//! first), and whether the workflow is decided. The plan is a pure function of the spec
//! and the members' stored outcomes: a coordinator that starts over replays it and
//! arrives where the last one stopped.
//!
//! Results pass on Celery's way: a member that follows another gets the previous result
//! prepended to its argument list (its array payload; a missing payload is an empty
//! list, any other payload a list of one).

use rustc_hash::FxHashMap;
use serde_json::{json, Map, Value};

use crate::error::{EngineError, Result};
use crate::registry::validate_name;

/// Most members (signatures) one workflow may have.
pub const MAX_MEMBERS: usize = 10_000;

/// One node of a workflow's tree.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    /// A task to run: its member number, name, payload and submit options.
    Sig {
        member: usize,
        name: String,
        payload: Option<Value>,
        options: Map<String, Value>,
    },
    /// Each step gets the previous step's result; the chain's result is the last one's.
    Chain(Vec<Node>),
    /// All members run at once; the result lists theirs in order.
    Group(Vec<Node>),
    /// A group (the header), then `body` with the list of the header's results.
    Chord { header: Vec<Node>, body: Box<Node> },
}

/// A member as the outside sees it: where it sits and what it runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub name: String,
    /// Where it sits, e.g. "chord header member 2 › chain step 1".
    pub path: String,
    /// Whether it gets a previous result (first in its argument list).
    pub has_previous: bool,
}

/// What the coordinator knows of a member it has started.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Started, not finished.
    Running,
    Success(Value),
    /// Failed or was cancelled: its id, final state and error message.
    Failure {
        id: String,
        state: String,
        message: String,
    },
}

/// A member to start now.
#[derive(Debug, Clone, PartialEq)]
pub struct Spawn {
    pub member: usize,
    pub name: String,
    pub payload: Value,
    pub options: Map<String, Value>,
}

/// Where a workflow stands.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Running,
    Success(Value),
    /// A member failed (or was cancelled): the workflow fails naming it.
    Failure {
        member: usize,
        message: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub spawn: Vec<Spawn>,
    pub verdict: Verdict,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Workflow {
    root: Node,
    members: Vec<Member>,
}

/// Parses JSON as deep as payloads may nest (the JS layer refuses more than 1,000 levels),
/// past serde_json's default limit of 128.
fn parse_deep<T: serde::de::DeserializeOwned>(json: &str) -> serde_json::Result<T> {
    let mut de = serde_json::Deserializer::from_str(json);
    de.disable_recursion_limit();
    let value = T::deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// The idempotency key of member `member` of workflow `workflow_id`.
pub fn member_key(workflow_id: &str, member: usize) -> String {
    format!("wf:{workflow_id}:{member}")
}

impl Workflow {
    /// Parses and checks a spec (JSON as built by `sig`, `chain`, `group`, `chord`).
    /// Errors name the member at fault.
    pub fn parse(json: &str) -> Result<Workflow> {
        let value: Value = parse_deep(json)
            .map_err(|e| EngineError::invalid(format!("a workflow spec is not JSON: {e}")))?;
        let mut members = Vec::new();
        let root = parse_node(&value, "", false, &mut members)?;
        Ok(Workflow { root, members })
    }

    /// Every member in order (its number is its index).
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// What follows from `outcomes` (by member number; members not in it have not been
    /// started): the members to start now, and the verdict.
    pub fn plan(&self, outcomes: &FxHashMap<usize, Outcome>) -> Plan {
        let mut spawn = Vec::new();
        let verdict = match eval(&self.root, None, outcomes, &mut spawn) {
            Status::Running => Verdict::Running,
            Status::Done(v) => Verdict::Success(v),
            Status::Failed(member) => {
                let Some(Outcome::Failure { id, state, message }) = outcomes.get(&member) else {
                    unreachable!("a failed status comes from a failure outcome")
                };
                let m = &self.members[member];
                let what = if state == "REVOKED" {
                    "was cancelled".to_string()
                } else {
                    format!("failed: {message}")
                };
                Verdict::Failure {
                    member,
                    message: format!("{} (task '{}', id {id}) {what}", m.path, m.name),
                }
            }
        };
        Plan { spawn, verdict }
    }
}

enum Status {
    Running,
    Done(Value),
    /// The member whose failure decides it.
    Failed(usize),
}

fn eval(
    node: &Node,
    input: Option<Value>,
    outcomes: &FxHashMap<usize, Outcome>,
    spawn: &mut Vec<Spawn>,
) -> Status {
    match node {
        Node::Sig {
            member,
            name,
            payload,
            options,
        } => match outcomes.get(member) {
            Some(Outcome::Running) => Status::Running,
            Some(Outcome::Success(v)) => Status::Done(v.clone()),
            Some(Outcome::Failure { .. }) => Status::Failed(*member),
            None => {
                spawn.push(Spawn {
                    member: *member,
                    name: name.clone(),
                    payload: with_previous(payload.clone(), input),
                    options: options.clone(),
                });
                Status::Running
            }
        },
        Node::Chain(steps) => {
            let mut carried = input;
            for step in steps {
                match eval(step, carried, outcomes, spawn) {
                    Status::Done(v) => carried = Some(v),
                    other => return other,
                }
            }
            Status::Done(carried.unwrap_or(Value::Null))
        }
        Node::Group(members) => eval_group(members, input, outcomes, spawn),
        Node::Chord { header, body } => match eval_group(header, input, outcomes, spawn) {
            Status::Done(results) => eval(body, Some(results), outcomes, spawn),
            other => other,
        },
    }
}

/// A group is done when every member is; it fails as soon as one member fails (the
/// others run on to their end), naming the first failed member in order.
fn eval_group(
    members: &[Node],
    input: Option<Value>,
    outcomes: &FxHashMap<usize, Outcome>,
    spawn: &mut Vec<Spawn>,
) -> Status {
    let mut results = Vec::with_capacity(members.len());
    let mut running = false;
    for m in members {
        match eval(m, input.clone(), outcomes, spawn) {
            Status::Done(v) => results.push(v),
            Status::Running => running = true,
            failed @ Status::Failed(_) => return failed,
        }
    }
    if running {
        Status::Running
    } else {
        Status::Done(Value::Array(results))
    }
}

/// A member's payload once the previous result is prepended to its argument list.
fn with_previous(payload: Option<Value>, previous: Option<Value>) -> Value {
    let Some(prev) = previous else {
        return payload.unwrap_or(Value::Null);
    };
    match payload {
        None | Some(Value::Null) => Value::Array(vec![prev]),
        Some(Value::Array(mut args)) => {
            args.insert(0, prev);
            Value::Array(args)
        }
        Some(other) => Value::Array(vec![prev, other]),
    }
}

fn join(path: &str, part: String) -> String {
    if path.is_empty() {
        part
    } else {
        format!("{path} › {part}")
    }
}

fn describe(path: &str) -> String {
    if path.is_empty() {
        "the workflow".to_string()
    } else {
        path.to_string()
    }
}

/// Parses a list of members; `fed` says whether its first member (every member, for a
/// group) gets a previous result, and `chained` that each later one gets its predecessor's.
struct ListKind<'a> {
    kind: &'a str,
    part: &'a str,
    fed: bool,
    chained: bool,
}

fn parse_list(
    value: &Value,
    list_kind: ListKind,
    path: &str,
    members: &mut Vec<Member>,
) -> Result<Vec<Node>> {
    let ListKind {
        kind,
        part,
        fed,
        chained,
    } = list_kind;
    let Some(list) = value.as_array() else {
        return Err(EngineError::invalid(format!(
            "{}: {kind} expects a list of signatures or workflows",
            describe(path)
        )));
    };
    if list.is_empty() {
        return Err(EngineError::invalid(format!(
            "{}: {kind} needs at least one member",
            describe(path)
        )));
    }
    list.iter()
        .enumerate()
        .map(|(i, v)| {
            let fed = fed || (chained && i > 0);
            parse_node(v, &join(path, format!("{part} {}", i + 1)), fed, members)
        })
        .collect()
}

/// `fed`: the node gets a previous result.
fn parse_node(value: &Value, path: &str, fed: bool, members: &mut Vec<Member>) -> Result<Node> {
    let Some(obj) = value.as_object() else {
        return Err(EngineError::invalid(format!(
            "{}: expected a signature (sig(name, payload)) or a workflow (chain, group, chord), got {}",
            describe(path),
            short(value)
        )));
    };
    if let Some(name) = obj.get("sig") {
        let name = name.as_str().ok_or_else(|| {
            EngineError::invalid(format!("{}: a task name must be a string", describe(path)))
        })?;
        validate_name("task", name)
            .map_err(|e| EngineError::invalid(format!("{}: {e}", describe(path))))?;
        let options = match obj.get("options") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(o)) => {
                if o.contains_key("key") {
                    return Err(EngineError::invalid(format!(
                        "{}: a workflow member cannot have an idempotency `key` (the workflow keys its members)",
                        describe(path)
                    )));
                }
                o.clone()
            }
            Some(other) => {
                return Err(EngineError::invalid(format!(
                    "{}: submit options must be an object, got {}",
                    describe(path),
                    short(other)
                )))
            }
        };
        if members.len() >= MAX_MEMBERS {
            return Err(EngineError::invalid(format!(
                "a workflow may have at most {MAX_MEMBERS} members"
            )));
        }
        let member = members.len();
        members.push(Member {
            name: name.to_string(),
            path: if path.is_empty() {
                "the task".to_string()
            } else {
                path.to_string()
            },
            has_previous: fed,
        });
        return Ok(Node::Sig {
            member,
            name: name.to_string(),
            payload: obj.get("payload").cloned(),
            options,
        });
    }
    if let Some(steps) = obj.get("chain") {
        let kind = ListKind {
            kind: "chain",
            part: "chain step",
            fed,
            chained: true,
        };
        return Ok(Node::Chain(parse_list(steps, kind, path, members)?));
    }
    if let Some(list) = obj.get("group") {
        let kind = ListKind {
            kind: "group",
            part: "group member",
            fed,
            chained: false,
        };
        return Ok(Node::Group(parse_list(list, kind, path, members)?));
    }
    if let Some(header) = obj.get("chord") {
        let kind = ListKind {
            kind: "chord",
            part: "chord header member",
            fed,
            chained: false,
        };
        let header = parse_list(header, kind, path, members)?;
        let body = obj.get("body").ok_or_else(|| {
            EngineError::invalid(format!("{}: a chord needs a callback", describe(path)))
        })?;
        let body = parse_node(body, &join(path, "chord callback".into()), true, members)?;
        return Ok(Node::Chord {
            header,
            body: Box::new(body),
        });
    }
    Err(EngineError::invalid(format!(
        "{}: expected a signature (sig(name, payload)) or a workflow (chain, group, chord), got {}",
        describe(path),
        short(value)
    )))
}

fn short(v: &Value) -> String {
    let mut s = v.to_string();
    if s.len() > 60 {
        let mut cut = 57;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str("...");
    }
    s
}

/// The plan as the coordinator reads it (JSON): `{ spawn: [{ member, name, payload,
/// options, key }], verdict: null | { ok: true, result } | { ok: false, member, message } }`.
pub fn plan_json(workflow_id: &str, plan: &Plan) -> Value {
    let spawn: Vec<Value> = plan
        .spawn
        .iter()
        .map(|s| {
            json!({
                "member": s.member,
                "name": s.name,
                "payload": s.payload,
                "options": s.options,
                "key": member_key(workflow_id, s.member),
            })
        })
        .collect();
    let verdict = match &plan.verdict {
        Verdict::Running => Value::Null,
        Verdict::Success(v) => json!({ "ok": true, "result": v }),
        Verdict::Failure { member, message } => {
            json!({ "ok": false, "member": member, "message": message })
        }
    };
    json!({ "spawn": spawn, "verdict": verdict })
}

/// Reads the coordinator's outcomes: `[[member, "R"] | [member, "S", result] |
/// [member, "F", id, state, message]]`.
pub fn parse_outcomes(json: &str) -> Result<FxHashMap<usize, Outcome>> {
    let rows: Vec<Vec<Value>> = parse_deep(json)
        .map_err(|e| EngineError::invalid(format!("workflow outcomes are not valid: {e}")))?;
    let mut out = FxHashMap::default();
    for row in rows {
        let bad = || EngineError::invalid("workflow outcomes are not valid");
        let member = row.first().and_then(Value::as_u64).ok_or_else(bad)? as usize;
        let kind = row.get(1).and_then(Value::as_str).ok_or_else(bad)?;
        let text = |i: usize| row.get(i).and_then(Value::as_str).unwrap_or("").to_string();
        let outcome = match kind {
            "R" => Outcome::Running,
            "S" => Outcome::Success(row.get(2).cloned().unwrap_or(Value::Null)),
            "F" => Outcome::Failure {
                id: text(2),
                state: text(3),
                message: text(4),
            },
            _ => return Err(bad()),
        };
        out.insert(member, outcome);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(name: &str, payload: Value) -> Value {
        json!({ "sig": name, "payload": payload })
    }

    fn run_all(wf: &Workflow, results: impl Fn(&str, &Value) -> Result<Value>) -> Verdict {
        let mut outcomes = FxHashMap::default();
        loop {
            let plan = wf.plan(&outcomes);
            if plan.verdict != Verdict::Running {
                return plan.verdict;
            }
            assert!(
                !plan.spawn.is_empty(),
                "a running workflow starts something"
            );
            for s in plan.spawn {
                let o = match results(&s.name, &s.payload) {
                    Ok(v) => Outcome::Success(v),
                    Err(e) => Outcome::Failure {
                        id: format!("id{}", s.member),
                        state: "FAILURE".into(),
                        message: e.to_string(),
                    },
                };
                outcomes.insert(s.member, o);
            }
        }
    }

    fn math(name: &str, p: &Value) -> Result<Value> {
        let nums: Vec<i64> = p
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_i64)
            .collect();
        Ok(match name {
            "add" => json!(nums.iter().sum::<i64>()),
            "multiply" => json!(nums.iter().product::<i64>()),
            "sum" => json!(p[0]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_i64)
                .sum::<i64>()),
            "boom" => return Err(EngineError::invalid("boom")),
            _ => unreachable!(),
        })
    }

    #[test]
    fn seed_examples() {
        let chain = Workflow::parse(
            &json!({ "chain": [sig("add", json!([1, 2])), sig("multiply", json!([3]))] })
                .to_string(),
        )
        .unwrap();
        assert_eq!(run_all(&chain, math), Verdict::Success(json!(9)));
        let group = json!({ "group": [sig("add", json!([1, 2])), sig("add", json!([3, 4])), sig("add", json!([5, 6]))] });
        let wf = Workflow::parse(&group.to_string()).unwrap();
        assert_eq!(run_all(&wf, math), Verdict::Success(json!([3, 7, 11])));
        let chord = json!({ "chord": group["group"], "body": { "sig": "sum" } });
        let wf = Workflow::parse(&chord.to_string()).unwrap();
        assert_eq!(run_all(&wf, math), Verdict::Success(json!(21)));
    }

    #[test]
    fn chain_stops_at_a_failure_and_names_it() {
        let wf = Workflow::parse(
            &json!({ "chain": [sig("add", json!([1, 2])), sig("boom", json!([])), sig("add", json!([1]))] })
                .to_string(),
        )
        .unwrap();
        let Verdict::Failure { member, message } = run_all(&wf, math) else {
            panic!("fails")
        };
        assert_eq!(member, 1);
        assert!(
            message.starts_with("chain step 2 (task 'boom', id id1) failed: boom"),
            "{message}"
        );
    }

    #[test]
    fn group_fails_at_once_while_others_run() {
        let wf = Workflow::parse(
            &json!({ "chord": [sig("add", json!([1])), sig("boom", json!([]))], "body": sig("sum", Value::Null) }).to_string(),
        )
        .unwrap();
        let first = wf.plan(&FxHashMap::default());
        assert_eq!(first.spawn.len(), 2);
        let mut outcomes = FxHashMap::default();
        outcomes.insert(0, Outcome::Running);
        outcomes.insert(
            1,
            Outcome::Failure {
                id: "x".into(),
                state: "REVOKED".into(),
                message: String::new(),
            },
        );
        let plan = wf.plan(&outcomes);
        assert!(plan.spawn.is_empty(), "the callback does not start");
        assert_eq!(
            plan.verdict,
            Verdict::Failure {
                member: 1,
                message: "chord header member 2 (task 'boom', id x) was cancelled".into()
            }
        );
    }

    #[test]
    fn nested_members_get_the_previous_result() {
        // chain(add(1,2), group(multiply(2), multiply()), sum)
        let wf = Workflow::parse(
            &json!({ "chain": [
                sig("add", json!([1, 2])),
                { "group": [sig("multiply", json!([2])), { "sig": "multiply" }] },
                { "sig": "sum" }
            ] })
            .to_string(),
        )
        .unwrap();
        assert_eq!(run_all(&wf, math), Verdict::Success(json!(9)));
        assert_eq!(wf.members()[1].path, "chain step 2 › group member 1");
        let fed: Vec<bool> = wf.members().iter().map(|m| m.has_previous).collect();
        assert_eq!(fed, [false, true, true, true]);
        let chord = Workflow::parse(
            &json!({ "chord": [{ "chain": [sig("a", json!([])), sig("b", json!([]))] }], "body": sig("c", json!([])) })
                .to_string(),
        )
        .unwrap();
        let fed: Vec<bool> = chord.members().iter().map(|m| m.has_previous).collect();
        assert_eq!(fed, [false, true, true]);
    }

    #[test]
    fn previous_result_joins_the_argument_list() {
        assert_eq!(with_previous(None, Some(json!(3))), json!([3]));
        assert_eq!(
            with_previous(Some(json!([4])), Some(json!(3))),
            json!([3, 4])
        );
        assert_eq!(
            with_previous(Some(json!({ "a": 1 })), Some(json!(3))),
            json!([3, { "a": 1 }])
        );
        assert_eq!(
            with_previous(Some(json!({ "a": 1 })), None),
            json!({ "a": 1 })
        );
    }

    #[test]
    fn bad_specs_name_the_member() {
        let e = Workflow::parse(
            &json!({ "chain": [sig("add", json!([])), { "group": [] }] }).to_string(),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "chain step 2: group needs at least one member"
        );
        let e =
            Workflow::parse(&json!({ "group": [sig("a b", json!([]))] }).to_string()).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("group member 1: task name 'a b' is not URL-safe"),
            "{e}"
        );
        let e =
            Workflow::parse(&json!({ "chord": [sig("a", json!([]))] }).to_string()).unwrap_err();
        assert_eq!(e.to_string(), "the workflow: a chord needs a callback");
        let e = Workflow::parse(
            &json!({ "group": [{ "sig": "a", "options": { "key": "k" } }] }).to_string(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("idempotency `key`"), "{e}");
    }
}
