//! `Stack`: a program, a state directory and a registry (the fake test
//! provider by default), driven through the library's stages (script →
//! graph → plan → apply) in process.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use payrun::provider::aws::AwsProvider;
use payrun::provider::awscc::AwsccProvider;

use payrun::apply::{ApplyError, ApplyOptions, ApplySummary, Hook, apply};
use payrun::graph::DesiredGraph;
use payrun::plan::{Mode, Plan, PlanOptions, make_plan};
use payrun::provider::Registry;
use payrun::provider::fake::{FakeConfig, FakeProvider};
use payrun::script::{self, ScriptConfig, ScriptError};
use payrun::state::{LocalStore, State};
use payrun::ui::PlainView;
use tempfile::TempDir;

pub struct Stack {
    pub dir: TempDir,
    pub fake: Arc<FakeProvider>,
    pub registry: Registry,
    pub suffix: String,
    /// `config().vars` of the program.
    pub vars: Mutex<serde_json::Map<String, serde_json::Value>>,
    /// The AWS provider on moto, for stacks made with [`Stack::aws`].
    pub aws: Option<Arc<AwsProvider>>,
    /// The variables the program may read with `secret_env`.
    pub secret_env: Mutex<Vec<String>>,
    /// The kubeconfig given to payrun, as `--kubeconfig` gives it.
    pub kubeconfig: Mutex<Option<PathBuf>>,
    /// What the person running payrun acknowledges (`--acknowledge`).
    pub acknowledged: Mutex<Vec<payrun::script::Acknowledgement>>,
}

impl Stack {
    pub fn new(program: &str) -> Self {
        let fake = Arc::new(FakeProvider::new(FakeConfig::default()));
        let registry = Registry::new().with("fake", fake.clone());
        Self::with_registry(program, fake, registry)
    }

    /// A stack over any providers (`fake` is then only kept for the field).
    pub fn with_registry(program: &str, fake: Arc<FakeProvider>, registry: Registry) -> Self {
        let s = Self {
            dir: tempfile::tempdir().unwrap(),
            fake,
            registry,
            suffix: "qa".into(),
            vars: Mutex::default(),
            aws: None,
            secret_env: Mutex::default(),
            // The operator gives payrun the kubeconfig the program's
            // cluster map names, as `--kubeconfig` does.
            kubeconfig: Mutex::new(named_kubeconfig(program)),
            acknowledged: Mutex::default(),
        };
        s.write(program);
        s
    }

    /// A stack on the AWS provider against moto, with its own suffix so
    /// tests run in parallel. Kubernetes kinds are known (for plan-time
    /// checks); nothing here applies them.
    pub fn aws(program: &str, suffix: &str) -> Self {
        use payrun::provider::k8s::{K8sConfig, K8sProvider};
        let aws = Arc::new(crate::support::moto::provider());
        let fake = Arc::new(FakeProvider::new(FakeConfig::default()));
        let registry = Registry::new()
            .with("aws", aws.clone())
            .with("awscc", Arc::new(AwsccProvider::new(aws.clone())))
            .with("k8s", Arc::new(K8sProvider::new(K8sConfig::default())));
        let mut s = Self::with_registry(program, fake, registry);
        s.suffix = suffix.to_string();
        s.aws = Some(aws);
        s
    }

    /// A stack with the product's providers (AWS, Kubernetes, helm) and no
    /// endpoint: plans on an empty state make no call.
    pub fn product(program: &str) -> Self {
        use payrun::provider::aws::AwsSettings;
        use payrun::provider::k8s::helm::{HelmConfig, HelmProvider};
        use payrun::provider::k8s::{K8sConfig, K8sProvider};
        let fake = Arc::new(FakeProvider::new(FakeConfig::default()));
        let aws = Arc::new(AwsProvider::new(AwsSettings::default()));
        let registry = Registry::new()
            .with("aws", aws.clone())
            .with("awscc", Arc::new(AwsccProvider::new(aws)))
            .with("k8s", Arc::new(K8sProvider::new(K8sConfig::default())))
            .with("helm", Arc::new(HelmProvider::new(HelmConfig::default())));
        Self::with_registry(program, fake, registry)
    }

    pub fn stack_name(&self) -> String {
        format!("main.{}", self.suffix)
    }

    /// Acknowledge `code` for every finding, as `--acknowledge CODE=REASON`.
    pub fn acknowledge(&self, code: &str, reason: &str) {
        self.acknowledged
            .lock()
            .unwrap()
            .push(payrun::script::Acknowledgement {
                code: code.to_string(),
                target: None,
                reason: reason.to_string(),
                at: payrun::script::Acknowledgement::COMMAND_LINE.to_string(),
            });
    }

    /// The account-wide PCI DSS controls (CloudTrail, GuardDuty) owned by
    /// another stack of the account: a program that is one part of a
    /// platform.
    pub fn account_baseline(&self) {
        self.acknowledge(
            "pci-audit-trail",
            "the account's baseline stack owns the organization trail",
        );
        self.acknowledge(
            "pci-threat-detection",
            "the account's baseline stack owns GuardDuty",
        );
    }

    pub fn set_var(&self, name: &str, value: impl Into<serde_json::Value>) {
        self.vars
            .lock()
            .unwrap()
            .insert(name.to_string(), value.into());
    }

    /// Declare `name` as a variable `secret_env` may read, as payrun.toml's
    /// `[allow] secret_env` does.
    pub fn allow_secret_env(&self, name: &str) {
        self.secret_env.lock().unwrap().push(name.to_string());
    }

    /// AWS operations sent so far by this stack's provider.
    pub fn aws_calls(&self) -> BTreeMap<String, u64> {
        self.aws.as_ref().map(|a| a.api_calls()).unwrap_or_default()
    }

    pub fn program(&self) -> PathBuf {
        self.dir.path().join("main.rhai")
    }

    pub fn write(&self, program: &str) {
        std::fs::write(self.program(), program).unwrap();
    }

    pub fn config(&self) -> ScriptConfig {
        ScriptConfig {
            suffix: self.suffix.clone(),
            region: "us-east-1".into(),
            stack: format!("main.{}", self.suffix),
            vars: self.vars.lock().unwrap().clone(),
            stdlib_dirs: vec![
                self.dir.path().join("stdlib"),
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("stdlib"),
            ],
            acknowledged: self.acknowledged.lock().unwrap().clone(),
            secret_env: self.secret_env.lock().unwrap().clone(),
            kubeconfig: self.kubeconfig.lock().unwrap().clone(),
            stack_outputs: None,
        }
    }

    pub fn store(&self) -> LocalStore {
        LocalStore::new(
            self.dir.path().join(".payrun"),
            &format!("main.{}", self.suffix),
            &self.suffix,
        )
    }

    pub fn state(&self) -> State {
        self.store().load().unwrap()
    }

    /// Rewrites the recorded state as an older payrun wrote it: each
    /// resource `address` (every resource when `None`) has its argument
    /// `new` recorded as `old`, and the file on disk says so.
    pub fn record_under_old_name(&self, address: Option<&str>, new: &str, old: &str) {
        let mut state = self.store().load().unwrap();
        for (a, r) in state.resources.iter_mut() {
            if address.is_some_and(|want| a.to_string() != want) {
                continue;
            }
            let args = r.args.as_object_mut().unwrap();
            let v = args
                .remove(new)
                .unwrap_or_else(|| panic!("{a} records `{new}`"));
            args.insert(old.to_string(), v);
        }
        self.store().save(&mut state).unwrap();
        let on_disk = self.state();
        assert!(
            on_disk
                .resources
                .iter()
                .filter(|(a, _)| address.is_none_or(|want| a.to_string() == want))
                .all(|(_, r)| r.args.get(old).is_some() && r.args.get(new).is_none()),
            "the old name `{old}` is on disk"
        );
    }

    /// Evaluate and build the graph.
    pub fn evaluate(&self) -> Result<(DesiredGraph, script::Program), ScriptError> {
        let program = script::evaluate(&self.program(), &self.registry, &self.config())?;
        let graph = DesiredGraph::build(&program, &self.registry)?;
        Ok((graph, program))
    }

    /// The error text of a program that must not evaluate.
    pub fn error(&self) -> String {
        match self.evaluate() {
            Ok(_) => panic!("the program evaluated without error"),
            Err(e) => e
                .to_string()
                .replace(&self.program().display().to_string(), "main.rhai"),
        }
    }

    pub async fn plan_mode(&self, mode: Mode) -> Plan {
        let state = self.state();
        let evaluated = if self.program().exists() {
            Some(self.evaluate().unwrap())
        } else {
            None
        };
        let mut plan = make_plan(
            evaluated.as_ref().map(|(g, p)| (g, p)),
            &state,
            &self.store().key().unwrap(),
            &self.registry,
            &self.suffix,
            PlanOptions {
                mode,
                refresh: true,
                replace: Vec::new(),
                mocks: Vec::new(),
            },
        )
        .await
        .unwrap();
        if let Some((graph, program)) = &evaluated {
            payrun::check::review(&mut plan, graph, program, &self.registry).unwrap();
        }
        plan
    }

    pub async fn plan(&self) -> Plan {
        self.plan_mode(Mode::Apply).await
    }

    pub async fn apply_plan(&self, plan: &Plan) -> ApplySummary {
        let hook: Arc<dyn Hook> = Arc::new(PlainView::new(Box::new(std::io::sink())));
        self.apply_with(plan, hook).await.unwrap()
    }

    /// Apply reporting to `hook`; an apply that refuses to start is an error.
    pub async fn apply_with(
        &self,
        plan: &Plan,
        hook: Arc<dyn Hook>,
    ) -> Result<ApplySummary, ApplyError> {
        let (summary, _) = apply(
            plan,
            self.state(),
            Arc::new(self.store()),
            self.registry.clone(),
            hook,
            ApplyOptions {
                parallelism: 4,
                ..Default::default()
            },
            Arc::new(AtomicBool::new(false)),
        )
        .await?;
        Ok(summary)
    }

    pub async fn apply(&self) -> ApplySummary {
        let plan = self.plan().await;
        self.apply_plan(&plan).await
    }

    pub async fn destroy(&self) -> ApplySummary {
        let plan = self.plan_mode(Mode::Destroy).await;
        self.apply_plan(&plan).await
    }
}

/// The messages of `plan`'s findings of `code`, in its order.
pub fn messages<'a>(plan: &'a Plan, code: &str) -> Vec<&'a str> {
    plan.findings
        .iter()
        .filter(|f| f.code == code)
        .map(|f| f.message.as_str())
        .collect()
}

/// The file after the first `kubeconfig: "` in `program`.
fn named_kubeconfig(program: &str) -> Option<PathBuf> {
    let rest = program.split_once("kubeconfig: \"")?.1;
    Some(PathBuf::from(rest.split_once('"')?.0))
}
