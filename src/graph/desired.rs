//! `DesiredGraph`: what the program declares, checked and ordered.

use std::sync::Arc;

use petgraph::Direction;
use petgraph::algo::{tarjan_scc, toposort};
use petgraph::stable_graph::{NodeIndex, StableDiGraph};
use serde_json::Value;

use crate::address::{Address, AddressMap};
use crate::provider::Registry;
use crate::script::{Program, ResourceSpec, ScriptError, SourcePos};
use crate::suggest::did_you_mean;
use crate::value::{RefTarget, collect_refs, visit_refs};

/// Resources and their dependencies. An edge runs from a dependency to its
/// dependent, so a topological order creates dependencies first.
pub struct DesiredGraph {
    graph: StableDiGraph<Address, ()>,
    index: AddressMap<NodeIndex>,
    specs: AddressMap<Arc<ResourceSpec>>,
    /// The specs in topological order: a pass over every resource looks
    /// none up.
    ordered: Vec<Arc<ResourceSpec>>,
}

impl DesiredGraph {
    pub fn build(program: &Program, registry: &Registry) -> Result<Self, ScriptError> {
        let mut graph = StableDiGraph::new();
        let n = program.resources.len();
        let mut index = AddressMap::with_capacity_and_hasher(n, Default::default());
        let mut specs = AddressMap::with_capacity_and_hasher(n, Default::default());
        for spec in &program.resources {
            index.insert(spec.address.clone(), graph.add_node(spec.address.clone()));
            specs.insert(spec.address.clone(), Arc::clone(spec));
        }
        let check = |target: &RefTarget,
                     user: &dyn Fn() -> String,
                     pos: &SourcePos|
         -> Result<(), ScriptError> {
            if !specs.contains_key(&target.address) {
                let mut names: Vec<String> = specs.keys().map(Address::to_string).collect();
                names.sort();
                let wanted = target.address.to_string();
                let fix = match did_you_mean(&wanted, names.iter().map(String::as_str)) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("declare {wanted} in the program, or remove the reference"),
                };
                return Err(ScriptError::new(
                    Some(pos.clone()),
                    format!(
                        "{} refers to {target}, but the program declares no {}",
                        user(),
                        target.address
                    ),
                    fix,
                ));
            }
            let has = registry
                .schema(target.address.kind())
                .is_some_and(|s| s.has_output(&target.attr));
            if !has {
                return Err(ScriptError::new(
                    Some(pos.clone()),
                    format!(
                        "{} refers to {target}, but {} has no output `{}`",
                        user(),
                        target.address.kind(),
                        target.attr
                    ),
                    "use one of the kind's outputs, e.g. `id` or `arn`",
                ));
            }
            Ok(())
        };
        let mut from = Vec::new();
        for spec in &program.resources {
            from.clear();
            let to = index[&spec.address];
            let user = || spec.address.to_string();
            // Looked up by text; only a ref that is wrong is parsed, to
            // say what is wrong with it.
            let mut wrong = None;
            visit_refs(&spec.args, &mut |address, attr| {
                let kind = address.rsplit_once('.').map_or("", |(kind, _)| kind);
                match index.get(address) {
                    Some(&n) if registry.schema(kind).is_some_and(|s| s.has_output(attr)) => {
                        from.push(n)
                    }
                    _ if wrong.is_none() => {
                        wrong = address.parse().ok().map(|address| RefTarget {
                            address,
                            attr: attr.to_string(),
                        })
                    }
                    _ => {}
                }
            });
            if let Some(target) = &wrong {
                check(target, &user, &spec.pos)?;
            }
            for (dep, pos) in &spec.explicit_deps {
                let target = RefTarget {
                    address: dep.clone(),
                    attr: "id".into(),
                };
                check(&target, &user, pos)?;
                from.push(index[dep]);
            }
            // One edge per dependency, however often it is referred to.
            from.sort_unstable();
            from.dedup();
            for &f in &from {
                graph.add_edge(f, to, ());
            }
        }
        for export in &program.exports {
            let mut refs = Vec::new();
            collect_refs(&export.value, &mut refs);
            for target in refs {
                check(
                    &target,
                    &|| format!("output `{}`", export.name),
                    &export.pos,
                )?;
            }
        }
        let ordered = match toposort(&graph, None) {
            Ok(order) => order
                .into_iter()
                .map(|n| Arc::clone(&specs[&graph[n]]))
                .collect(),
            Err(cycle) => return Err(cycle_error(&graph, cycle.node_id(), &specs)),
        };
        Ok(Self {
            graph,
            index,
            specs,
            ordered,
        })
    }

    /// Dependencies first.
    pub fn order(&self) -> impl Iterator<Item = &Address> {
        self.resources().map(|s| &s.address)
    }

    /// Every resource the program declares, dependencies first.
    pub fn resources(&self) -> impl Iterator<Item = &ResourceSpec> {
        self.ordered.iter().map(Arc::as_ref)
    }

    /// The resources of one kind, dependencies first.
    pub fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a ResourceSpec> {
        self.resources().filter(move |s| s.address.kind() == kind)
    }

    pub fn spec(&self, address: &Address) -> Option<&ResourceSpec> {
        self.specs.get(address).map(Arc::as_ref)
    }

    pub fn contains(&self, address: &Address) -> bool {
        self.specs.contains_key(address)
    }

    pub fn len(&self) -> usize {
        self.specs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.specs.is_empty()
    }

    /// Direct dependencies of `address`.
    pub fn deps(&self, address: &Address) -> Vec<Address> {
        let Some(&n) = self.index.get(address) else {
            return Vec::new();
        };
        let mut deps: Vec<Address> = self
            .graph
            .neighbors_directed(n, Direction::Incoming)
            .map(|d| self.graph[d].clone())
            .collect();
        deps.sort();
        deps
    }

    /// Does `address` depend on `on`, directly or through others?
    pub fn depends_on(&self, address: &Address, on: &Address) -> bool {
        match (self.index.get(on), self.index.get(address)) {
            (Some(&from), Some(&to)) => {
                petgraph::algo::has_path_connecting(&self.graph, from, to, None)
            }
            _ => false,
        }
    }

    /// Graphviz DOT, dependents pointing at their dependencies. A
    /// protected resource is drawn doubled, an imported one dashed, a
    /// moved one dotted, each saying so in its label.
    pub fn to_dot(&self, program: &crate::script::Program) -> String {
        let mut out =
            String::from("digraph payrun {\n  rankdir = \"RL\";\n  node [shape = box];\n");
        for a in self.order() {
            let mut notes = Vec::new();
            let mut attrs = Vec::new();
            if self.specs.get(a).is_some_and(|s| s.protect) {
                notes.push("(protected)".to_string());
                attrs.push("peripheries = 2");
            }
            if let Some(i) = program.adopts.iter().find(|i| &i.address == a) {
                notes.push(format!("(imported from {})", i.id));
                attrs.push("style = dashed");
            }
            if let Some(m) = program.moves.iter().find(|m| &m.to == a) {
                notes.push(format!("(moved from {})", m.from));
                attrs.push("style = dotted");
            }
            if notes.is_empty() {
                out.push_str(&format!("  \"{a}\";\n"));
            } else {
                out.push_str(&format!(
                    "  \"{a}\" [{}, label = \"{a}\\n{}\"];\n",
                    attrs.join(", "),
                    notes.join("\\n")
                ));
            }
        }
        for a in self.order() {
            for d in self.deps(a) {
                out.push_str(&format!("  \"{a}\" -> \"{d}\";\n"));
            }
        }
        out.push_str("}\n");
        out
    }

    /// A resource's args, for tests and views.
    pub fn args(&self, address: &Address) -> Option<&Value> {
        self.specs.get(address).map(|s| &*s.args)
    }
}

/// Name the circle: `a → b → c → a`, each with its line.
fn cycle_error(
    graph: &StableDiGraph<Address, ()>,
    start: NodeIndex,
    specs: &AddressMap<Arc<ResourceSpec>>,
) -> ScriptError {
    let scc = tarjan_scc(graph)
        .into_iter()
        .find(|c| c.contains(&start))
        .unwrap_or_else(|| vec![start]);
    // Walk inside the component until a node repeats.
    let mut path = vec![start];
    let mut current = start;
    loop {
        let next = graph
            .neighbors_directed(current, Direction::Incoming)
            .filter(|n| scc.contains(n))
            .min_by_key(|n| graph[*n].clone());
        let Some(next) = next else { break };
        if let Some(i) = path.iter().position(|p| *p == next) {
            path = path.split_off(i);
            path.push(next);
            break;
        }
        path.push(next);
        current = next;
    }
    let names: Vec<String> = path.iter().map(|n| graph[*n].to_string()).collect();
    // Each step: path[i] depends on path[i + 1]. A step the program asked
    // for with `depends_on` is where the circle is most likely broken, so
    // those lines come first.
    let mut closing: Vec<(SourcePos, String)> = Vec::new();
    for step in path.windows(2) {
        let (user, dep) = (&graph[step[0]], &graph[step[1]]);
        if let Some(s) = specs.get(user) {
            for (_, pos) in s.explicit_deps.iter().filter(|(d, _)| d == dep) {
                closing.push((
                    pos.clone(),
                    format!("depends_on makes {user} wait for {dep}"),
                ));
            }
        }
    }
    let declared = |n: &NodeIndex| {
        specs
            .get(&graph[*n])
            .map(|s| (s.pos.clone(), format!("{} is declared here", s.address)))
    };
    let message = format!("dependency cycle: {}", names.join(" → "));
    if closing.is_empty() {
        let mut err = ScriptError::new(
            specs.get(&graph[path[0]]).map(|s| s.pos.clone()),
            message,
            "break the circle: refer to one of these resources from a separate kind (e.g. a rule kind) or drop a depends_on",
        );
        err.related.extend(
            path[1..path.len().saturating_sub(1)]
                .iter()
                .filter_map(declared),
        );
        return err;
    }
    let (pos, _) = closing.remove(0);
    let mut err = ScriptError::new(
        Some(pos),
        message,
        "break the circle: drop this depends_on, or make one of these resources refer to the other from a separate kind (e.g. a rule kind)",
    );
    err.related.extend(closing);
    err.related.extend(
        path[..path.len().saturating_sub(1)]
            .iter()
            .filter_map(declared),
    );
    err
}
