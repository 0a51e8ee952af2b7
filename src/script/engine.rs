//! The one engine factory: limits, types, builder modules, host functions
//! and the stdlib module resolver.

use std::collections::BTreeMap;
use std::path::Path;

use rhai::{
    Dynamic, Engine, EvalAltResult, ImmutableString, Map as RhaiMap, Module, NativeCallContext,
    Position, Shared,
};

use crate::address::Address;
use crate::finding::Finding;
use crate::provider::{KindSchema, Registry};
use crate::suggest::did_you_mean;
use crate::value::display_key;

use super::cidr::cidr_subnet;
use super::confinement::{Ahead, ConfinedResolver, Confinement};
use super::error::SourcePos;
use super::functions::Functions;
use super::handle::{Handle, SecretSource};
use super::output_ref::RefusedCalls;
use super::recorder::{Recorder, fault};

/// Operations one evaluation may run: generous for a 10,000-resource
/// program, small enough to stop a runaway loop in seconds.
const MAX_OPERATIONS: u64 = 200_000_000;

/// What one evaluation's engine is built from.
pub struct EngineInputs<'a> {
    pub recorder: &'a Recorder,
    pub registry: &'a Registry,
    /// Generated kinds (`awscc.sqs.queue`) to register builders for, besides
    /// the registry's own: those the program's text names.
    pub generated: &'a [String],
    /// What `config()` returns, in the program and in modules.
    pub config: Dynamic,
    pub confinement: &'a Confinement,
    pub secret_env: &'a [String],
    pub stack_outputs: Option<super::StackOutputs>,
    pub refused: &'a RefusedCalls,
    pub functions: &'a Functions,
    /// Modules parsed ahead of their import.
    pub ahead: &'a Ahead,
}

/// Build the engine for one evaluation.
pub fn create_engine(inputs: EngineInputs<'_>) -> Engine {
    let EngineInputs {
        recorder,
        registry,
        generated,
        config,
        confinement,
        secret_env,
        stack_outputs,
        refused,
        functions,
        ahead,
    } = inputs;
    let mut engine = Engine::new();
    engine
        .set_max_operations(MAX_OPERATIONS)
        .set_max_call_levels(64)
        .set_max_expr_depths(128, 64)
        .set_max_string_size(1 << 20)
        .set_max_array_size(100_000)
        .set_max_map_size(100_000)
        .set_max_modules(256)
        .set_optimization_level(rhai::OptimizationLevel::None)
        .set_strict_variables(true)
        // No string interning: once Rhai's interner holds its 256 strings,
        // each new one scans all of them to evict one (rhai 1.27.0,
        // src/types/interner.rs, `throttle_cache`), in the parser and at
        // run time. A 100,000-resource plan takes 2.8 s without it, 3.3 s
        // with it; the syntax tree grows by a fifth until it is freed.
        .set_max_strings_interned(0);
    engine.on_print(|s| eprintln!("{}", display_key(s)));
    engine.on_debug(|s, src, pos| {
        eprintln!(
            "[{}:{}] {}",
            src.unwrap_or("program"),
            pos.line().unwrap_or(0),
            display_key(s)
        )
    });

    engine
        .register_type_with_name::<Handle>("Resource")
        .register_indexer_get(Handle::get)
        .register_fn("to_string", |h: &mut Handle| h.address.to_string())
        .register_fn("to_debug", |h: &mut Handle| {
            format!("Resource({})", h.address)
        });
    super::output_ref::register(&mut engine, refused);
    super::text_guard::register(&mut engine);
    engine
        .register_type_with_name::<SecretSource>("Secret")
        .register_fn("to_string", |s: &mut SecretSource| {
            format!("secret_env({:?})", s.env)
        })
        .register_fn("to_debug", |s: &mut SecretSource| {
            format!("secret_env({:?})", s.env)
        });

    for (name, module) in builder_modules(recorder, registry, generated) {
        engine.register_static_module(name, Shared::new(module));
    }
    register_host_functions(&mut engine, recorder, registry, config);
    super::secret_env::register(&mut engine, secret_env.to_vec());
    super::options::register(&mut engine);
    register_stdlib_json(&mut engine, confinement.clone());
    register_stack_output(&mut engine, stack_outputs);
    engine.set_module_resolver(ConfinedResolver::new(
        confinement.clone(),
        functions.clone(),
        ahead.clone(),
    ));
    engine
}

/// `aws::ec2::vpc(purpose, args)` for every kind in the registry, and for
/// each of the `generated` kinds it makes.
fn builder_modules(
    recorder: &Recorder,
    registry: &Registry,
    generated: &[String],
) -> BTreeMap<String, Module> {
    /// A builder; or a generated kind the program's text names, made from
    /// its schema only when called (a program pays nothing for the kinds a
    /// stdlib module names that it does not use), and when it is no kind
    /// (a typo), answering with the kind it meant.
    enum Builder {
        Kind(&'static KindSchema),
        Generated(String),
    }
    #[derive(Default)]
    struct Node {
        fns: Vec<Builder>,
        children: BTreeMap<String, Node>,
    }
    fn unknown(kind: &str, pos: rhai::Position) -> Box<EvalAltResult> {
        let all = crate::provider::awscc::kinds();
        let meant = did_you_mean(kind, all.iter().map(|(k, _)| *k));
        fault(
            format!(
                "no CloudFormation type is the kind `{}`",
                kind.replace('.', "::")
            ),
            match meant {
                Some(m) => format!("did you mean `{}`?", m.replace('.', "::")),
                None => "`payrun docs awscc` lists the services and their kinds".to_string(),
            },
            pos,
        )
    }
    fn into_module(node: Node, recorder: &Recorder, registry: &Registry) -> Module {
        let mut m = Module::new();
        for builder in node.fns {
            match builder {
                Builder::Kind(schema) => {
                    let (_, func) = schema.script_path();
                    let r = recorder.clone();
                    m.set_native_fn(
                        func,
                        move |ctx: NativeCallContext, purpose: ImmutableString, args: RhaiMap| {
                            let pos = r.pos(&ctx);
                            r.declare(schema, &purpose, args, pos).map_err(at(&ctx))
                        },
                    );
                    let r = recorder.clone();
                    m.set_native_fn(
                        func,
                        move |ctx: NativeCallContext, purpose: ImmutableString| {
                            let pos = r.pos(&ctx);
                            r.declare(schema, &purpose, RhaiMap::new(), pos)
                                .map_err(at(&ctx))
                        },
                    );
                }
                Builder::Generated(kind) => {
                    let func = kind.rsplit('.').next().unwrap_or_default().to_string();
                    let (r, reg, k) = (recorder.clone(), registry.clone(), kind.clone());
                    m.set_native_fn(
                        func.as_str(),
                        move |ctx: NativeCallContext, purpose: ImmutableString, args: RhaiMap| {
                            let schema = reg
                                .schema(&k)
                                .ok_or_else(|| unknown(&k, ctx.call_position()))?;
                            let pos = r.pos(&ctx);
                            r.declare(schema, &purpose, args, pos).map_err(at(&ctx))
                        },
                    );
                    let (r, reg) = (recorder.clone(), registry.clone());
                    m.set_native_fn(
                        func.as_str(),
                        move |ctx: NativeCallContext, purpose: ImmutableString| {
                            let schema = reg
                                .schema(&kind)
                                .ok_or_else(|| unknown(&kind, ctx.call_position()))?;
                            let pos = r.pos(&ctx);
                            r.declare(schema, &purpose, RhaiMap::new(), pos)
                                .map_err(at(&ctx))
                        },
                    );
                }
            }
        }
        for (name, child) in node.children {
            m.set_sub_module(name, into_module(child, recorder, registry));
        }
        m
    }
    let mut root = Node::default();
    let builders = registry
        .schemas()
        .map(Builder::Kind)
        .chain(generated.iter().map(|k| Builder::Generated(k.clone())));
    for builder in builders {
        let path: Vec<String> = match &builder {
            Builder::Kind(schema) => schema
                .script_path()
                .0
                .iter()
                .map(ToString::to_string)
                .collect(),
            Builder::Generated(kind) => {
                let mut parts: Vec<String> = kind.split('.').map(str::to_string).collect();
                parts.pop();
                parts
            }
        };
        let mut node = &mut root;
        for seg in path {
            node = node.children.entry(seg).or_default();
        }
        node.fns.push(builder);
    }
    root.children
        .into_iter()
        .map(|(name, node)| (name, into_module(node, recorder, registry)))
        .collect()
}

/// `stack_output("network.qa", "vpc_id")`: an output another stack of the
/// same store recorded, read at plan time. It is a plain value in the
/// program (an edge to nothing live); a stack or an output that is not
/// there is an error at the call.
fn register_stack_output(engine: &mut Engine, outputs: Option<super::StackOutputs>) {
    engine.register_fn(
        "stack_output",
        move |ctx: NativeCallContext, stack: ImmutableString, name: ImmutableString| {
            let pos = ctx.call_position();
            let Some(outputs) = &outputs else {
                return Err(fault(
                    "stack_output has no state store to read here",
                    "run it through `payrun plan` or `payrun apply`",
                    pos,
                ));
            };
            let recorded = outputs.read(&stack).map_err(|why| {
                fault(
                    format!("unknown: {why}"),
                    format!("apply stack `{stack}` first (it must be kept in the same state store)"),
                    pos,
                )
            })?;
            match recorded.get(name.as_str()) {
                Some(v) => rhai::serde::to_dynamic(v).map_err(|e| fault(e.to_string(), "report this", pos)),
                None => Err(fault(
                    format!("unknown: stack `{stack}` has no output `{name}`"),
                    if recorded.is_empty() {
                        format!("stack `{stack}` has no outputs: its program exports none, or it was never applied")
                    } else {
                        format!(
                            "its outputs are {}",
                            recorded.keys().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
                        )
                    },
                    pos,
                )),
            }
        },
    );
}

/// Errors from host functions carry the call's position.
fn at(ctx: &NativeCallContext) -> impl Fn(Box<EvalAltResult>) -> Box<EvalAltResult> + use<> {
    let pos = ctx.call_position();
    move |mut e| {
        if e.position().is_none() {
            e.set_position(pos);
        }
        e
    }
}

fn register_host_functions(
    engine: &mut Engine,
    recorder: &Recorder,
    registry: &Registry,
    config: Dynamic,
) {
    // `export` is a Rhai keyword (module variables); payrun gives it to
    // outputs, which programs need far more often.
    engine.disable_symbol("export");
    let r = recorder.clone();
    engine
        .register_custom_syntax(
            ["export", "(", "$expr$", ",", "$expr$", ")"],
            false,
            move |ctx, inputs| {
                let pos = inputs[0].position();
                let name = ctx.eval_expression_tree(&inputs[0])?;
                let value = ctx.eval_expression_tree(&inputs[1])?;
                let name = name.into_string().map_err(|t| {
                    fault(
                        format!("export takes a name (a string) first, not a {t}"),
                        "write `export(\"vpc_id\", vpc.id);`",
                        pos,
                    )
                })?;
                let at = SourcePos {
                    file: ctx
                        .source()
                        .filter(|s| !s.is_empty())
                        .unwrap_or(r.main_file())
                        .to_string(),
                    line: pos.line().unwrap_or(0),
                    col: pos.position().unwrap_or(0),
                };
                r.export(&name, &value, at).map_err(|mut e| {
                    e.set_position(pos);
                    e
                })?;
                Ok(Dynamic::UNIT)
            },
        )
        .expect("export syntax registers");
    let r = recorder.clone();
    engine.register_fn(
        "depends_on",
        move |ctx: NativeCallContext, a: Handle, b: Handle| {
            r.depends_on(&a, &b, r.pos(&ctx)).map_err(at(&ctx))
        },
    );
    let r = recorder.clone();
    engine.register_fn(
        "depends_on",
        move |ctx: NativeCallContext, a: Handle, bs: rhai::Array| {
            for b in bs {
                let Some(b) = b.try_cast::<Handle>() else {
                    return Err(fault(
                        "depends_on takes resources",
                        "pass the values builders return",
                        Position::NONE,
                    ));
                };
                r.depends_on(&a, &b, r.pos(&ctx)).map_err(at(&ctx))?;
            }
            Ok(())
        },
    );
    let r = recorder.clone();
    engine.register_fn(
        "default_tags",
        move |ctx: NativeCallContext, tags: RhaiMap| r.default_tags(&tags).map_err(at(&ctx)),
    );
    engine.register_fn("cidr_subnet", |ctx: NativeCallContext, base: ImmutableString, newbits: i64, index: i64| {
        cidr_subnet(&base, newbits, index).map_err(|e| fault(e, "see `cidr_subnet(base, newbits, index)`: e.g. cidr_subnet(\"10.0.0.0/16\", 4, 0) is 10.0.0.0/20", ctx.call_position()))
    });
    let registry_for_ref = registry.clone();
    engine.register_fn(
        "resource",
        move |ctx: NativeCallContext,
              addr: ImmutableString|
              -> Result<Handle, Box<EvalAltResult>> {
            let pos = ctx.call_position();
            let address: Address = addr.parse().map_err(|e: String| {
                fault(e, "write an address such as `aws.ec2.vpc.main`", pos)
            })?;
            let schema = registry_for_ref.schema(address.kind()).ok_or_else(|| {
                fault(
                    format!("`{}` is not a resource kind", address.kind()),
                    "use a kind payrun knows, e.g. `aws.ec2.vpc`",
                    pos,
                )
            })?;
            Ok(Handle { address, schema })
        },
    );
    engine.register_fn("config", move || config.clone());
    // `fail(message, fix)`: `throw` with the fix the error shows.
    engine.register_fn(
        "fail",
        |ctx: NativeCallContext, message: ImmutableString, fix: ImmutableString| -> Result<(), _> {
            Err(fault(message.as_str(), fix.as_str(), ctx.call_position()))
        },
    );
    // `forget("aws.ec2.vpc.legacy")`: the recorded resource leaves state and
    // the program without being destroyed.
    let r = recorder.clone();
    engine.register_fn(
        "forget",
        move |ctx: NativeCallContext, address: ImmutableString| -> Result<(), Box<EvalAltResult>> {
            let a: Address = address.parse().map_err(|e| {
                fault(
                    format!("forget(\"{address}\"): {e}"),
                    "name a recorded resource by its address: `payrun state list` lists them",
                    ctx.call_position(),
                )
            })?;
            r.forget(a, r.pos(&ctx));
            Ok(())
        },
    );
    // `adopt(vpc, "vpc-0abc")`: the declaration's resource exists already;
    // the plan imports it instead of making it.
    let r = recorder.clone();
    engine.register_fn(
        "adopt",
        move |ctx: NativeCallContext, handle: Handle, id: ImmutableString| -> Result<(), Box<EvalAltResult>> {
            if id.trim().is_empty() {
                return Err(fault(
                    format!("adopt({}, \"\"): the id is empty", handle.address),
                    "give the id of the live resource, as its service shows it (`payrun discover` lists them)",
                    ctx.call_position(),
                ));
            }
            r.adopt(super::Adoption {
                address: handle.address.clone(),
                id: id.to_string(),
                pos: r.pos(&ctx),
            });
            Ok(())
        },
    );
    // `moved("aws.ec2.subnet.a", "aws.ec2.subnet.public-a")`: the address
    // changed in the program, not the resource in the cloud.
    let r = recorder.clone();
    engine.register_fn(
        "moved",
        move |ctx: NativeCallContext,
              from: ImmutableString,
              to: ImmutableString|
              -> Result<(), Box<EvalAltResult>> {
            let parse = |a: &str| -> Result<Address, Box<EvalAltResult>> {
                a.parse().map_err(|e| {
                    fault(
                        format!("moved(\"{from}\", \"{to}\"): {e}"),
                        "name both by their addresses: `payrun state list` lists the recorded ones",
                        ctx.call_position(),
                    )
                })
            };
            let m = super::Move {
                from: parse(&from)?,
                to: parse(&to)?,
                pos: r.pos(&ctx),
            };
            r.moved(m);
            Ok(())
        },
    );
    let r = recorder.clone();
    engine.register_fn(
        "plan_warning",
        move |ctx: NativeCallContext, message: ImmutableString, remedy: ImmutableString| {
            let pos = r.pos(&ctx);
            r.finding(
                Finding::warning("program", message.to_string())
                    .remedy(remedy.to_string())
                    .line(pos.to_string())
                    .source(pos.to_string()),
            );
        },
    );
    // `acknowledge(code, reason)` names the one finding of `code`;
    // `acknowledge(code, resource_or_address, reason)` one of several.
    // `acknowledge(code, reason)`, or naming the one finding meant by
    // resource (a handle) or address: `acknowledge(code, target, reason)`.
    let ack = |r: &Recorder,
               ctx: &NativeCallContext,
               code: &str,
               target: Option<String>,
               reason: &str| {
        r.acknowledge(super::recorder::Acknowledgement {
            code: code.to_string(),
            target,
            reason: reason.to_string(),
            at: r.pos(ctx).to_string(),
        });
    };
    let r = recorder.clone();
    engine.register_fn(
        "acknowledge",
        move |ctx: NativeCallContext, code: ImmutableString, reason: ImmutableString| {
            ack(&r, &ctx, &code, None, &reason)
        },
    );
    let r = recorder.clone();
    engine.register_fn(
        "acknowledge",
        move |ctx: NativeCallContext,
              code: ImmutableString,
              target: ImmutableString,
              reason: ImmutableString| {
            ack(&r, &ctx, &code, Some(target.to_string()), &reason)
        },
    );
    let r = recorder.clone();
    engine.register_fn(
        "acknowledge",
        move |ctx: NativeCallContext,
              code: ImmutableString,
              target: Handle,
              reason: ImmutableString| {
            ack(&r, &ctx, &code, Some(target.address.to_string()), &reason)
        },
    );
    let r = recorder.clone();
    engine.register_fn(
        "plan_error",
        move |ctx: NativeCallContext, message: ImmutableString, remedy: ImmutableString| {
            let pos = r.pos(&ctx);
            r.finding(
                Finding::error("program", message.to_string())
                    .remedy(remedy.to_string())
                    .line(pos.to_string())
                    .source(pos.to_string()),
            );
        },
    );
}

/// `stdlib_json("file.json")`: a JSON document kept beside the stdlib
/// modules (a published IAM policy, say), as a map. Only plain file names in
/// the stdlib directories are read, and only when their real path stays
/// inside the confinement.
fn register_stdlib_json(engine: &mut Engine, confinement: Confinement) {
    engine.register_fn(
        "stdlib_json",
        move |ctx: NativeCallContext,
              name: ImmutableString|
              -> Result<Dynamic, Box<EvalAltResult>> {
            let pos = ctx.call_position();
            let plain = !name.is_empty()
                && !name.contains('/')
                && !name.contains("..")
                && name.ends_with(".json");
            if !plain {
                return Err(fault(
                    format!("`{name}` is not a JSON file name"),
                    "name a .json file in a stdlib directory, e.g. `stdlib_json(\"policy.json\")`",
                    pos,
                ));
            }
            let what = format!("stdlib_json(\"{name}\")");
            let Some(path) = confinement.find(Path::new(name.as_str()), &what, pos)? else {
                return Err(fault(
                    format!("no stdlib file `{name}`"),
                    format!(
                        "put it in one of {}",
                        confinement
                            .search_dirs()
                            .iter()
                            .map(|d| d.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    pos,
                ));
            };
            let text = std::fs::read_to_string(&path).map_err(|e| {
                fault(
                    format!("cannot read {}: {e}", path.display()),
                    "check the file",
                    pos,
                )
            })?;
            let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                fault(
                    format!("{} is not JSON: {e}", path.display()),
                    "fix the file",
                    pos,
                )
            })?;
            rhai::serde::to_dynamic(value)
        },
    );
}
