//! `Recorder`: where builders put what the program declares, and the
//! `Program` that comes out once the script has finished.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rhai::{Dynamic, EvalAltResult, Map as RhaiMap, NativeCallContext, Position};
use serde_json::{Map, Value};

use crate::address::{Address, AddressMap};
use crate::finding::Finding;
use crate::provider::{KindSchema, add_standard_tags};
use crate::suggest::did_you_mean;
use crate::value::{
    as_secret, decode_script_strings, for_validation, holds_secret, is_plain, secret_marker,
};

use super::error::SourcePos;
use super::handle::{Handle, SecretSource};
use super::output_ref::OutputRef;

/// The `protect` meta-argument, which any declaration takes (a kind with a
/// property of that name keeps it as its own): true or false, so
/// `protect: config().vars.prod ?? false` differs between environments.
fn take_protect(
    schema: &KindSchema,
    path: &str,
    purpose: &str,
    mut args: RhaiMap,
) -> Result<(bool, RhaiMap), Box<EvalAltResult>> {
    if schema.arg(PROTECT).is_some() {
        return Ok((false, args));
    }
    let Some(value) = args.remove(PROTECT) else {
        return Ok((false, args));
    };
    match value.as_bool() {
        Ok(protect) => Ok((protect, args)),
        Err(got) => Err(fault(
            format!("`{PROTECT}` of {path}(\"{purpose}\") takes true or false, not {got}"),
            "e.g. `protect: true`, or per environment `protect: config().vars.prod ?? false` with `--var prod=true`",
            Position::NONE,
        )),
    }
}

/// The meta-argument's name.
pub const PROTECT: &str = "protect";

/// A resource as the program declared it.
#[derive(Clone, Debug)]
pub struct ResourceSpec {
    pub address: Address,
    /// Physical name `{resource-type}-{purpose}-{suffix}`.
    pub name: String,
    /// Args with refs as markers; for taggable kinds `tags` holds the full
    /// tag set. Shared with the plan, which keeps it as it is unless a
    /// ref is known by then.
    pub args: Arc<Value>,
    /// From `depends_on`.
    pub explicit_deps: Vec<(Address, SourcePos)>,
    pub pos: SourcePos,
    /// `protect: true`: a plan that would delete or replace it is an error
    /// unless `--allow-destroy` names it.
    pub protect: bool,
}

#[derive(Clone, Debug)]
pub struct Export {
    pub name: String,
    pub value: Value,
    pub pos: SourcePos,
}

/// What a program declares.
#[derive(Clone, Debug, Default)]
pub struct Program {
    /// Shared with the graph, which keeps them by address.
    pub resources: Vec<Arc<ResourceSpec>>,
    pub exports: Vec<Export>,
    /// From `plan_warning` / `plan_error` in the program.
    pub findings: Vec<Finding>,
    /// From `acknowledge(code, reason)`.
    pub acknowledged: Vec<Acknowledgement>,
    /// From `forget(address)`: recorded resources to let go of without
    /// destroying them.
    pub forgets: Vec<(Address, SourcePos)>,
    /// From `adopt(handle, id)`: declarations whose resource already
    /// exists, to be imported rather than made.
    pub adopts: Vec<Adoption>,
    /// From `moved(from, to)`: recorded resources whose address changed in
    /// the program, not in the cloud.
    pub moves: Vec<Move>,
    /// From `default_tags`: the program's own classification, whether or
    /// not any of its kinds carries tags.
    pub default_tags: BTreeMap<String, String>,
    /// `config().region`: the region the program was written for.
    pub region: String,
}

/// `adopt(handle, id)`: the resource of a declaration exists already.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Adoption {
    pub address: Address,
    pub id: String,
    pub pos: SourcePos,
}

/// `moved(from, to)`: what state records at `from` is now declared at `to`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Move {
    pub from: Address,
    pub to: Address,
    pub pos: SourcePos,
}

/// A finding code knowingly accepted, with the reason and who accepted it.
#[derive(Clone, Debug)]
pub struct Acknowledgement {
    pub code: String,
    /// The one finding of `code` meant, by its address (or, for a finding
    /// of no resource, the `file:line:col` that raised it); `None` accepts
    /// every finding of the code, which only the person running payrun may.
    pub target: Option<String>,
    pub reason: String,
    /// Where it was given: [`Acknowledgement::COMMAND_LINE`],
    /// [`Acknowledgement::PROJECT_FILE`], or the program's `file:line:col`.
    pub at: String,
}

/// Who acknowledged a finding: the person running payrun (flags,
/// payrun.toml) or the program under review.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum AcknowledgedBy {
    CommandLine,
    ProjectFile,
    Program,
}

impl Acknowledgement {
    /// `at` of `--acknowledge CODE=REASON`.
    pub const COMMAND_LINE: &'static str = "--acknowledge";
    /// `at` of an entry of payrun.toml's `[acknowledge]` table.
    pub const PROJECT_FILE: &'static str = "payrun.toml";

    pub fn on_command_line(code: &str, reason: &str) -> Self {
        Self {
            code: code.to_string(),
            target: None,
            reason: reason.to_string(),
            at: Self::COMMAND_LINE.to_string(),
        }
    }

    pub fn in_project_file(code: &str, reason: &str) -> Self {
        Self {
            code: code.to_string(),
            target: None,
            reason: reason.to_string(),
            at: Self::PROJECT_FILE.to_string(),
        }
    }

    /// A program's position is always `file:line:col`, so it never reads
    /// as one of the two outside sources.
    pub fn by(&self) -> AcknowledgedBy {
        match self.at.as_str() {
            Self::COMMAND_LINE => AcknowledgedBy::CommandLine,
            Self::PROJECT_FILE => AcknowledgedBy::ProjectFile,
            _ => AcknowledgedBy::Program,
        }
    }

    /// How the plan names it: `on the command line by --acknowledge:
    /// REASON`, `in payrun.toml: REASON`, `in the program at F:L:C: REASON`.
    pub fn describe(&self) -> String {
        match self.by() {
            AcknowledgedBy::CommandLine => {
                format!("on the command line by --acknowledge: {}", self.reason)
            }
            AcknowledgedBy::ProjectFile => format!("in payrun.toml: {}", self.reason),
            AcknowledgedBy::Program => format!("in the program at {}: {}", self.at, self.reason),
        }
    }
}

/// A builder's complaint, carried through Rhai as the error value.
#[derive(Clone, Debug)]
pub struct Fault {
    pub message: String,
    pub fix: String,
}

pub fn fault(
    message: impl Into<String>,
    fix: impl Into<String>,
    pos: Position,
) -> Box<EvalAltResult> {
    Box::new(EvalAltResult::ErrorRuntime(
        Dynamic::from(Fault {
            message: message.into(),
            fix: fix.into(),
        }),
        pos,
    ))
}

#[derive(Default)]
struct Recorded {
    program: Program,
    index: AddressMap<usize>,
    user_tags: Vec<BTreeMap<String, String>>,
    default_tags: BTreeMap<String, String>,
}

/// Shared by every builder of one evaluation.
#[derive(Clone)]
pub struct Recorder {
    inner: Arc<Mutex<Recorded>>,
    suffix: String,
    stack: String,
    main_file: String,
    /// Where `import` looks for modules, in order.
    module_dirs: Vec<PathBuf>,
    /// Module name → the file shown for it, found once per module rather
    /// than with file-system lookups on every builder call.
    module_files: Arc<Mutex<HashMap<String, String>>>,
}

impl Recorder {
    pub fn new(suffix: &str, stack: &str, main_file: &str, module_dirs: &[PathBuf]) -> Self {
        Self {
            inner: Arc::default(),
            suffix: suffix.to_string(),
            stack: stack.to_string(),
            main_file: main_file.to_string(),
            module_dirs: module_dirs.to_vec(),
            module_files: Arc::default(),
        }
    }

    pub fn main_file(&self) -> &str {
        &self.main_file
    }

    /// Where the native call of `ctx` was written: the program, or the file
    /// of the stdlib module (Rhai names a module's source by its import
    /// name, `workloads`; the module search path turns it into `stdlib/workloads.rhai`).
    pub fn pos(&self, ctx: &NativeCallContext) -> SourcePos {
        let p = ctx.call_position();
        let file = match ctx.call_source().filter(|s| !s.is_empty()) {
            None => self.main_file.clone(),
            Some(source) => self
                .module_files
                .lock()
                .expect("module files")
                .entry(source.to_string())
                .or_insert_with(|| {
                    super::module_file(source, &self.module_dirs)
                        .unwrap_or_else(|| source.to_string())
                })
                .clone(),
        };
        SourcePos {
            file,
            line: p.line().unwrap_or(0),
            col: p.position().unwrap_or(0),
        }
    }

    /// The physical name of a resource.
    pub fn physical_name(&self, schema: &KindSchema, purpose: &str) -> String {
        if self.suffix.is_empty() {
            format!("{}-{purpose}", schema.name_prefix)
        } else {
            format!("{}-{purpose}-{}", schema.name_prefix, self.suffix)
        }
    }

    /// A builder call: `aws::ec2::vpc("main", #{ ... })`.
    pub fn declare(
        &self,
        schema: &'static KindSchema,
        purpose: &str,
        args: RhaiMap,
        pos: SourcePos,
    ) -> Result<Handle, Box<EvalAltResult>> {
        let address = Address::new(schema.kind, purpose)
            .map_err(|e| fault(e, "rename it, e.g. `private-a`", Position::NONE))?;
        let path = schema.kind.replace('.', "::");
        let (protect, args) = take_protect(schema, &path, purpose, args)?;
        let args = with_handles_resolved(schema, &path, purpose, args)?;
        let mut args = map_to_json(&args).map_err(|e| {
            fault(
                format!("{path}(\"{purpose}\"): {e}"),
                "pass strings, numbers, booleans, arrays, maps, resources or refs",
                Position::NONE,
            )
        })?;
        let mut user_tags = BTreeMap::new();
        if let Value::Object(map) = &mut args {
            for key in map.keys() {
                if schema.arg(key).is_none() {
                    let names = schema
                        .args
                        .iter()
                        .map(|a| a.name)
                        .chain(schema.arg(PROTECT).is_none().then_some(PROTECT));
                    let fix = match did_you_mean(key, names.clone()) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => format!(
                            "its properties are {}",
                            names
                                .map(|n| format!("`{n}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    };
                    return Err(fault(
                        format!("{path} has no property `{key}`"),
                        fix,
                        Position::NONE,
                    ));
                }
            }
            for spec in schema.args.iter().filter(|a| a.secret) {
                if let Some(v) = map.get(spec.name)
                    && as_secret(v).is_none()
                {
                    return Err(fault(
                        format!(
                            "`{}` of {path}(\"{purpose}\") is secret and must not be written in the program",
                            spec.name
                        ),
                        format!(
                            "read it at apply time: `{}: secret_env(\"VARIABLE\")`",
                            spec.name
                        ),
                        Position::NONE,
                    ));
                }
            }
            // A secret anywhere else would be stored, planned and read
            // back in plain text.
            if let Some(key) = map
                .iter()
                .find(|(k, v)| {
                    !schema.arg(k).is_some_and(|a| a.may_hold_secret()) && holds_secret(v)
                })
                .map(|(k, _)| k.clone())
            {
                let secret: Vec<String> = schema
                    .args
                    .iter()
                    .filter(|a| a.may_hold_secret())
                    .map(|a| format!("`{}`", a.name))
                    .collect();
                let fix = if secret.is_empty() {
                    format!(
                        "{path} has no secret arguments: keep the value in a secret (`aws::secretsmanager::secret`) and pass a reference to it"
                    )
                } else {
                    format!(
                        "only {} of {path} may hold a `secret_env(...)`",
                        secret.join(", ")
                    )
                };
                return Err(fault(
                    format!(
                        "`{key}` of {path}(\"{purpose}\") is not secret and may not hold a `secret_env(...)`"
                    ),
                    fix,
                    Position::NONE,
                ));
            }
            if let Some((field, fix)) = map
                .get("manifest")
                .and_then(crate::provider::k8s::kinds::secret_in_the_open)
            {
                return Err(fault(
                    format!(
                        "`{field}` of {path}(\"{purpose}\") is a Secret's value and must not be written in the program"
                    ),
                    fix,
                    Position::NONE,
                ));
            }
            if let Some(spec) = schema
                .args
                .iter()
                .find(|a| a.observed && map.get(a.name).is_some_and(|v| !v.is_null()))
            {
                return Err(fault(
                    format!(
                        "`{}` of {path}(\"{purpose}\") is what a refresh observes in the cloud, not something a program sets",
                        spec.name
                    ),
                    format!("remove `{}` from the map", spec.name),
                    Position::NONE,
                ));
            }
            if schema.taggable
                && let Some(t) = map.remove("tags")
            {
                user_tags = serde_json::from_value(t).map_err(|_| {
                    fault(
                        format!("`tags` of {path}(\"{purpose}\") must map names to strings"),
                        "write `tags: #{ Team: \"payments\" }`",
                        Position::NONE,
                    )
                })?;
            }
        }
        let args = decode_script_strings(args);
        let checked = if is_plain(&args) {
            (schema.validate)(&args)
        } else {
            (schema.validate)(&for_validation(&args))
        };
        if let Err(e) = checked {
            return Err(fault(
                format!("{path}(\"{purpose}\"): {}", e.message),
                e.fix,
                Position::NONE,
            ));
        }
        // A ref has become a `$ref` map by now: only a literal is a name.
        let name = match args.get("name").and_then(Value::as_str) {
            _ if !schema.named_by_arg => self.physical_name(schema, purpose),
            Some(n) => n.to_string(),
            None => purpose.to_string(),
        };
        let mut rec = self.inner.lock().expect("recorder");
        if let Some(&i) = rec.index.get(&address) {
            let first = rec.program.resources[i].pos.clone();
            return Err(fault(
                format!("{address} is declared twice (first at {first})"),
                "give each resource of a kind its own name",
                Position::NONE,
            ));
        }
        let i = rec.program.resources.len();
        rec.index.insert(address.clone(), i);
        rec.user_tags.push(user_tags);
        rec.program.resources.push(Arc::new(ResourceSpec {
            address: address.clone(),
            name: name.clone(),
            args: Arc::new(args),
            explicit_deps: Vec::new(),
            pos,
            protect,
        }));
        Ok(Handle { address, schema })
    }

    pub fn depends_on(
        &self,
        a: &Handle,
        b: &Handle,
        pos: SourcePos,
    ) -> Result<(), Box<EvalAltResult>> {
        let mut rec = self.inner.lock().expect("recorder");
        let Some(&i) = rec.index.get(&a.address) else {
            return Err(fault(
                format!("{} is not declared in this program", a.address),
                "call depends_on with resources the program declares",
                Position::NONE,
            ));
        };
        Arc::make_mut(&mut rec.program.resources[i])
            .explicit_deps
            .push((b.address.clone(), pos));
        Ok(())
    }

    pub fn export(
        &self,
        name: &str,
        value: &Dynamic,
        pos: SourcePos,
    ) -> Result<(), Box<EvalAltResult>> {
        let value = to_json(value).map_err(|e| {
            fault(
                format!("export `{name}`: {e}"),
                "export strings, numbers, maps, arrays or refs",
                Position::NONE,
            )
        })?;
        let mut rec = self.inner.lock().expect("recorder");
        if let Some(prev) = rec.program.exports.iter().find(|e| e.name == name) {
            return Err(fault(
                format!("output `{name}` is exported twice (first at {})", prev.pos),
                "give each output its own name",
                Position::NONE,
            ));
        }
        rec.program.exports.push(Export {
            name: name.to_string(),
            value: decode_script_strings(value),
            pos,
        });
        Ok(())
    }

    pub fn default_tags(&self, tags: &RhaiMap) -> Result<(), Box<EvalAltResult>> {
        let mut rec = self.inner.lock().expect("recorder");
        for (k, v) in tags {
            let v = v.clone().into_string().map_err(|t| {
                fault(
                    format!("default tag `{k}` is a {t}, not a string"),
                    "give every tag a string value",
                    Position::NONE,
                )
            })?;
            rec.default_tags.insert(k.to_string(), v);
        }
        Ok(())
    }

    pub fn acknowledge(&self, ack: Acknowledgement) {
        self.inner
            .lock()
            .expect("recorder")
            .program
            .acknowledged
            .push(ack);
    }

    pub fn forget(&self, address: Address, pos: SourcePos) {
        self.inner
            .lock()
            .expect("recorder")
            .program
            .forgets
            .push((address, pos));
    }

    pub fn adopt(&self, adoption: Adoption) {
        self.inner
            .lock()
            .expect("recorder")
            .program
            .adopts
            .push(adoption);
    }

    pub fn moved(&self, m: Move) {
        self.inner.lock().expect("recorder").program.moves.push(m);
    }

    pub fn finding(&self, finding: Finding) {
        self.inner
            .lock()
            .expect("recorder")
            .program
            .findings
            .push(finding);
    }

    /// The program, with every taggable resource's full tag set.
    pub fn finish(&self, schema_of: impl Fn(&str) -> Option<&'static KindSchema>) -> Program {
        let mut rec = self.inner.lock().expect("recorder");
        let defaults = rec.default_tags.clone();
        let user_tags = std::mem::take(&mut rec.user_tags);
        let mut program = std::mem::take(&mut rec.program);
        program.default_tags = defaults.clone();
        for (spec, user) in program.resources.iter_mut().zip(user_tags) {
            let Some(schema) = schema_of(spec.address.kind()) else {
                continue;
            };
            if !schema.taggable {
                continue;
            }
            // The resource's own tags win over the defaults.
            let mut tags = user;
            for (k, v) in &defaults {
                if !tags.contains_key(k) {
                    tags.insert(k.clone(), v.clone());
                }
            }
            add_standard_tags(&mut tags, &spec.name, &self.stack, &spec.address);
            let tags: Map<String, Value> = tags
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect();
            if let Value::Object(map) = Arc::make_mut(&mut Arc::make_mut(spec).args) {
                map.insert("tags".into(), Value::Object(tags));
            }
        }
        program
    }
}

/// A resource handle passed as an argument stands for the output that
/// argument needs (`role_arn: role` is `role.arn`, `role_name: role` is
/// `role.name`, `vpc: vpc` is `vpc.id`), alone or in a list. A handle to
/// a kind without that output is an error naming what to pass.
fn with_handles_resolved(
    schema: &'static KindSchema,
    path: &str,
    purpose: &str,
    mut args: RhaiMap,
) -> Result<RhaiMap, Box<EvalAltResult>> {
    for (key, value) in args.iter_mut() {
        let Some(spec) = schema.arg(key) else {
            continue;
        };
        let wanted = spec.handle_output();
        let as_ref = |d: &Dynamic| -> Result<Option<Dynamic>, Box<EvalAltResult>> {
            let Some(h) = d.read_lock::<Handle>() else {
                return Ok(None);
            };
            // `topic_arn: topic`, where the topic's ARN is the output of
            // that very name (a generated kind's `TopicArn`).
            let output = if !h.schema.has_output(wanted) && h.schema.has_output(key) {
                key.as_str()
            } else {
                wanted
            };
            if !h.schema.has_output(output) {
                return Err(fault(
                    format!(
                        "`{key}` of {path}(\"{purpose}\") takes the {output} of a resource, but {} has no output `{output}`",
                        h.address
                    ),
                    format!(
                        "pass the output of {} you mean (`.id`, or one of: {})",
                        h.address,
                        h.schema.outputs.join(", ")
                    ),
                    Position::NONE,
                ));
            }
            Ok(Some(Dynamic::from(crate::value::script_ref(
                &h.address, output,
            ))))
        };
        if let Some(r) = as_ref(value)? {
            *value = r;
        } else if let Ok(mut items) = value.as_array_mut() {
            for item in items.iter_mut() {
                if let Some(r) = as_ref(item)? {
                    *item = r;
                }
            }
        } else if schema.kind.starts_with("awscc.") {
            nested_handles_resolved(value);
        }
    }
    Ok(args)
}

/// Inside a generated kind's nested maps, a handle stands for the output
/// its key names (`deadLetterTargetArn: dlq` is `dlq.arn`, `…_name` a name),
/// else for its `id`, the Cloud Control identifier.
fn nested_handles_resolved(value: &mut Dynamic) {
    let pick = |key: &str, h: &Handle| -> &'static str {
        let k = key.to_ascii_lowercase();
        let wanted = if k.ends_with("arn") {
            "arn"
        } else if k.ends_with("name") {
            "name"
        } else {
            "id"
        };
        if h.schema.has_output(wanted) {
            wanted
        } else {
            "id"
        }
    };
    let as_ref = |key: &str, d: &Dynamic| -> Option<Dynamic> {
        let h = d.read_lock::<Handle>()?;
        Some(Dynamic::from(crate::value::script_ref(
            &h.address,
            pick(key, &h),
        )))
    };
    if let Some(mut map) = value.write_lock::<RhaiMap>() {
        for (key, v) in map.iter_mut() {
            if let Some(r) = as_ref(key, v) {
                *v = r;
            } else if let Ok(mut items) = v.as_array_mut() {
                for item in items.iter_mut() {
                    match as_ref(key, item) {
                        Some(r) => *item = r,
                        None => nested_handles_resolved(item),
                    }
                }
            } else {
                nested_handles_resolved(v);
            }
        }
    } else if let Ok(mut items) = value.as_array_mut() {
        for item in items.iter_mut() {
            nested_handles_resolved(item);
        }
    }
}

/// A script value as JSON; handles become refs to their `id`, secrets
/// become `$secret` markers.
pub fn to_json(d: &Dynamic) -> Result<Value, String> {
    if d.is_unit() {
        return Ok(Value::Null);
    }
    if let Ok(b) = d.as_bool() {
        return Ok(Value::Bool(b));
    }
    if let Ok(i) = d.as_int() {
        return Ok(Value::from(i));
    }
    if let Ok(f) = d.as_float() {
        return serde_json::Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| format!("{f} is not a finite number"));
    }
    if let Ok(c) = d.as_char() {
        return Ok(Value::String(c.to_string()));
    }
    // Borrowed, not cloned: a clone of a map or array is a deep copy.
    if let Ok(s) = d.as_immutable_string_ref() {
        return Ok(Value::String(s.to_string()));
    }
    if let Ok(arr) = d.as_array_ref() {
        return arr
            .iter()
            .map(to_json)
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array);
    }
    if let Ok(map) = d.as_map_ref() {
        return map_to_json(&map);
    }
    if let Some(r) = d.read_lock::<OutputRef>() {
        return Ok(Value::String(r.text()));
    }
    if let Some(h) = d.read_lock::<Handle>() {
        return Ok(Value::String(crate::value::script_ref(&h.address, "id")));
    }
    if let Some(s) = d.read_lock::<SecretSource>() {
        return Ok(secret_marker(&s.env, None));
    }
    Err(format!(
        "a value of type `{}` cannot be used here",
        d.type_name()
    ))
}

fn map_to_json(map: &RhaiMap) -> Result<Value, String> {
    let mut out = Map::with_capacity(map.len());
    for (k, v) in map {
        if k.starts_with('$') {
            return Err(format!("map keys may not start with `$` (`{k}`)"));
        }
        out.insert(k.to_string(), to_json(v)?);
    }
    Ok(Value::Object(out))
}
