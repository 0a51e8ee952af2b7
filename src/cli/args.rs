//! Flags, collected and checked by clap; decisions that need several of
//! them are made in `config`.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "payrun",
    version,
    about = "Plan and apply infrastructure declared in Rhai programs"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone, Default)]
pub struct Global {
    /// Name suffix of every resource and of the stack (`payment-qa`).
    #[arg(long, global = true, value_name = "SUFFIX")]
    pub suffix: Option<String>,
    /// AWS region (else payrun.toml, else AWS_REGION).
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// A program variable, `config().vars.KEY` (repeatable).
    #[arg(long = "var", global = true, value_name = "KEY=VALUE")]
    pub vars: Vec<String>,
    /// Accept a finding knowingly: its errors become warnings that still
    /// show, with this reason (repeatable; `acknowledge(code, reason)` in
    /// a program does the same).
    #[arg(long = "acknowledge", global = true, value_name = "CODE=REASON")]
    pub acknowledge: Vec<String>,
    /// An environment variable `secret_env("NAME")` may read, besides
    /// payrun.toml's `[allow] secret_env` (repeatable).
    #[arg(long = "secret-env", global = true, value_name = "NAME")]
    pub secret_env: Vec<String>,
    /// The kubeconfig the Kubernetes kinds and helm connect through (else
    /// payrun.toml's `[kube] kubeconfig`); programs read it as
    /// `config().kubeconfig` and may name no other.
    #[arg(long, global = true, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Use a kubeconfig whose cluster has `insecure-skip-tls-verify`
    /// (refused otherwise: anyone on the path could act as the cluster).
    #[arg(long, global = true)]
    pub insecure_kubeconfig: bool,
    /// Another directory searched first for `import "name"`.
    #[arg(long, global = true, value_name = "DIR")]
    pub stdlib: Vec<PathBuf>,
    /// Send AWS calls to this endpoint (moto, LocalStack).
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Where state files live (default `.payrun` in the project).
    #[arg(long, global = true, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Keep state in a bucket: `s3://BUCKET/PREFIX` (else [state] in
    /// payrun.toml, else the state directory).
    #[arg(long = "state", global = true, value_name = "URL")]
    pub state_url: Option<String>,
    /// The KMS key that seals state in the bucket (else [state] kms_key).
    #[arg(long, global = true, value_name = "KEY")]
    pub state_kms_key: Option<String>,
    /// How long a call that AWS throttles or fails with 5xx keeps being
    /// retried (e.g. `90s`, `10m`).
    #[arg(long, global = true, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "2m")]
    pub retry_budget: std::time::Duration,
    /// How long one AWS request may take before the SDK gives up on it; a
    /// create interrupted by a crash is looked for again once that long has
    /// passed since it was sent, before anything is made anew.
    #[arg(long, global = true, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "30s")]
    pub request_timeout: std::time::Duration,
    /// How long to wait for the stack's lock while another payrun holds it
    /// (default: do not wait).
    #[arg(long, global = true, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "0s")]
    pub lock_timeout: std::time::Duration,
    /// No colour (NO_COLOR is honoured too).
    #[arg(long, global = true)]
    pub no_color: bool,
}

#[derive(Debug, Args, Clone)]
pub struct PlanFlags {
    /// Read live state before diffing (`--refresh=false` to skip).
    #[arg(long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub refresh: bool,
    /// Print the plan as JSON.
    #[arg(long)]
    pub json: bool,
    /// Let this run delete or replace a protected resource (`protect:
    /// true`): an address, `*` for any run of characters; repeatable.
    #[arg(long, value_name = "ADDRESS")]
    pub allow_destroy: Vec<String>,
    /// Plan only this (an address, `*` for any run of characters;
    /// repeatable) and what it needs.
    #[arg(long = "target", id = "targets", value_name = "ADDRESS")]
    pub targets: Vec<String>,
    /// Leave this (and what needs it) for a later plan; repeatable.
    #[arg(long, value_name = "ADDRESS")]
    pub exclude: Vec<String>,
    /// Replace what this names (an address, `*` for any run of
    /// characters; repeatable) even where nothing forces it.
    #[arg(long, value_name = "ADDRESS")]
    pub replace: Vec<String>,
    /// Show only what changed outside payrun; apply records it in state
    /// and changes nothing in the cloud.
    #[arg(long)]
    pub refresh_only: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show what apply would do.
    Plan {
        /// The program (default: `program` in payrun.toml).
        program: Option<PathBuf>,
        #[command(flatten)]
        flags: PlanFlags,
        /// Save the plan for `payrun apply FILE`.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Exit 0 with no changes, 2 with changes, 1 on error.
        #[arg(long)]
        detailed_exitcode: bool,
        /// Plan the destruction of everything in state.
        #[arg(long)]
        destroy: bool,
    },
    /// Plan and apply, or apply a saved plan file.
    Apply {
        /// A program, or a plan file saved with `plan --out`.
        target: Option<PathBuf>,
        #[command(flatten)]
        flags: PlanFlags,
        /// Do not ask for confirmation.
        #[arg(long)]
        auto_approve: bool,
        /// Operations in flight at once.
        #[arg(long, default_value_t = 10)]
        parallelism: usize,
    },
    /// Destroy everything recorded in the stack's state.
    Destroy {
        program: Option<PathBuf>,
        #[command(flatten)]
        flags: PlanFlags,
        #[arg(long)]
        auto_approve: bool,
        #[arg(long, default_value_t = 10)]
        parallelism: usize,
    },
    /// Check the program, its graph and its findings; no cloud calls.
    Validate { program: Option<PathBuf> },
    /// The reference: a kind's properties and outputs, or a stdlib
    /// module's functions; every kind and module without NAME.
    Docs {
        /// A kind (`aws.ec2.vpc` or `aws::ec2::vpc`) or a stdlib module.
        name: Option<String>,
        /// Every kind as JSON.
        #[arg(long, conflicts_with_all = ["definitions", "readme"])]
        json: bool,
        /// Write `.d.rhai` definitions (builders, host functions, stdlib
        /// modules) for an editor into DIR.
        #[arg(long, value_name = "DIR", conflicts_with = "readme")]
        definitions: Option<PathBuf>,
        /// Rewrite the kinds table of FILE (the README) between its markers.
        #[arg(long, value_name = "FILE")]
        readme: Option<PathBuf>,
    },
    /// Print the dependency graph as Graphviz DOT.
    Graph { program: Option<PathBuf> },
    /// Print the stack's outputs (one, raw, with NAME).
    Output {
        name: Option<String>,
        /// The program whose stack to read.
        #[arg(long)]
        program: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Inspect and repair state.
    State {
        #[command(subcommand)]
        command: StateCommand,
        /// The program whose stack to use.
        #[arg(long, global = true)]
        program: Option<PathBuf>,
    },
    /// List what exists in the account and region that no stack records
    /// (payrun's tags tell), with batched reads; `--generate FILE` writes
    /// it as a program of declarations with `adopt`.
    Discover {
        /// Only this kind (repeatable; default: every kind payrun lists).
        #[arg(long = "kind", id = "kinds", value_name = "KIND")]
        kinds: Vec<String>,
        /// Only objects with this tag (repeatable: all must match); what
        /// hangs on an object (a route, a rule) goes with it.
        #[arg(long = "tag", id = "tags", value_name = "KEY=VALUE")]
        tags: Vec<String>,
        /// Write the declarations to this new file.
        #[arg(long, value_name = "FILE")]
        generate: Option<PathBuf>,
    },
    /// Read existing objects by id and write their declarations, each
    /// with `adopt`, to a new file: its plan imports them.
    Import {
        /// The new program file to write.
        #[arg(long, value_name = "FILE")]
        generate: PathBuf,
        /// Their kind (`aws.ec2.subnet`, `awscc.sqs.queue`).
        #[arg(value_name = "KIND")]
        kind: String,
        /// Their ids, as their service shows them.
        #[arg(value_name = "ID", required = true)]
        ids: Vec<String>,
    },
    /// Run the `*_test.rhai` files under PATH (default: the project):
    /// each plans programs offline and asserts on the plans; no cloud call.
    Test {
        #[arg(value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Also write the results as JUnit XML to FILE.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
    },
    /// Make a new project in DIR (default: here): payrun.toml, a program
    /// that plans offline, `.payrun/` in .gitignore, editor definitions.
    /// Never overwrites.
    Init {
        #[arg(value_name = "DIR", default_value = ".")]
        dir: PathBuf,
    },
    /// Print the completion script of a shell: `source <(payrun
    /// completions bash)` (zsh, fish, powershell and elvish alike).
    Completions {
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `payrun man | man -l -`.
    Man,
    /// Print an EKS token as a kubeconfig exec credential: the credential
    /// of the kubeconfig payrun hands helm, which runs it again whenever
    /// the last token expires. Signed with `--region`, `--endpoint-url`,
    /// `--profile` and the default credential chain.
    #[command(hide = true)]
    EksToken {
        /// The EKS cluster's name (`x-k8s-aws-id`).
        #[arg(long)]
        cluster: String,
        #[arg(long)]
        profile: Option<String>,
        /// How long the client may use the token.
        #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "14m")]
        token_lifetime: std::time::Duration,
    },
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// List recorded resources.
    List,
    /// Show one recorded resource.
    Show { address: String },
    /// Forget resources (or interrupted creates) without destroying them.
    Rm {
        #[arg(required = true)]
        addresses: Vec<String>,
    },
    /// Remove a lock left by a payrun that is gone: shows the holder and
    /// asks first.
    Unlock {
        /// Do not ask.
        #[arg(long)]
        force: bool,
    },
    /// Print the current state as JSON.
    Pull,
    /// Write FILE as the stack's state: it must be of the stack's lineage
    /// and not older than the stored state.
    Push {
        file: PathBuf,
        /// Write it whatever its lineage and serial.
        #[arg(long)]
        force: bool,
    },
    /// Rename a recorded resource without touching the cloud.
    Mv {
        address: String,
        new_address: String,
    },
    /// Versions of the state: serial, time, who, command.
    History,
    /// Write an earlier version again as the newest (asks first).
    Rollback {
        serial: u64,
        /// Do not ask.
        #[arg(long)]
        auto_approve: bool,
    },
    /// Move the stack to another store (`s3://BUCKET/PREFIX`, or `local`
    /// for the state directory), holding the lock of both.
    Migrate {
        #[arg(long, value_name = "URL")]
        to: String,
    },
}
