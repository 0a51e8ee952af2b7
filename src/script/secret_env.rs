//! `secret_env("NAME")`: a secret read from the environment at apply time.
//!
//! A program reads only the variables its project declares (payrun.toml
//! `[allow] secret_env`), and never one of payrun's own credentials or
//! settings: a program under review must not be able to send
//! `AWS_SECRET_ACCESS_KEY` to a resource it controls.

use rhai::{Engine, EvalAltResult, ImmutableString, NativeCallContext};

use super::handle::SecretSource;
use super::recorder::fault;

/// Variables payrun, the AWS SDK, the Kubernetes client or helm read for
/// their own credentials and configuration, by prefix.
const RESERVED_PREFIXES: &[(&str, &str)] = &[
    ("AWS_", "the AWS SDK's credentials and settings"),
    ("AMAZON_", "AWS credentials and settings"),
    ("PAYRUN_", "payrun's own settings"),
    ("KUBE", "the Kubernetes client's configuration"),
    (
        "HELM_",
        "helm's configuration and credentials (HELM_KUBETOKEN)",
    ),
    (
        "XDG_",
        "where helm keeps its configuration and registry credentials",
    ),
    ("SSL_CERT_", "the TLS trust store payrun uses"),
];

/// Variables read by name for the same reasons.
const RESERVED_NAMES: &[(&str, &str)] = &[
    (
        "HOME",
        "where credentials and configuration files are found",
    ),
    ("PATH", "where payrun finds helm and credential plugins"),
    ("TMPDIR", "where payrun writes kubeconfig and values files"),
    (
        "HTTP_PROXY",
        "the proxy payrun's requests go through (and its credentials)",
    ),
    (
        "HTTPS_PROXY",
        "the proxy payrun's requests go through (and its credentials)",
    ),
    (
        "ALL_PROXY",
        "the proxy payrun's requests go through (and its credentials)",
    ),
    ("NO_PROXY", "which hosts payrun reaches without a proxy"),
];

/// Why a program may not read the variable `name`, when it may not.
pub fn secret_env_refusal(name: &str) -> Option<String> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Some("it is not an environment variable name".into());
    }
    let upper = name.to_ascii_uppercase();
    RESERVED_NAMES
        .iter()
        .find(|(n, _)| upper == *n)
        .map(|(n, why)| format!("{n} is payrun's own: {why}"))
        .or_else(|| {
            RESERVED_PREFIXES
                .iter()
                .find(|(p, _)| upper.starts_with(p))
                .map(|(p, why)| format!("{p}* variables are payrun's own: {why}"))
        })
}

/// Register `secret_env` for a project that declares `declared`.
pub fn register(engine: &mut Engine, declared: Vec<String>) {
    engine.register_fn(
        "secret_env",
        move |ctx: NativeCallContext,
              name: ImmutableString|
              -> Result<SecretSource, Box<EvalAltResult>> {
            let pos = ctx.call_position();
            let valid =
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(fault(
                    format!("`{name}` is not an environment variable name"),
                    "use letters, digits and `_`, e.g. `DB_PASSWORD`",
                    pos,
                ));
            }
            if let Some(why) = secret_env_refusal(&name) {
                return Err(fault(
                    format!("secret_env(\"{name}\") is refused: {why}"),
                    "give the secret a variable of its own, e.g. `secret_env(\"DB_PASSWORD\")`, and list it in payrun.toml under [allow]: secret_env = [\"DB_PASSWORD\"]",
                    pos,
                ));
            }
            if !declared.iter().any(|d| d == name.as_str()) {
                return Err(fault(
                    format!(
                        "secret_env(\"{name}\"): the project does not declare `{name}` as a secret variable"
                    ),
                    format!(
                        "add it to payrun.toml under [allow]: secret_env = [{}]",
                        declared
                            .iter()
                            .map(String::as_str)
                            .chain([name.as_str()])
                            .map(|n| format!("\"{n}\""))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    pos,
                ));
            }
            // Read once here for one thing only: an empty value would be
            // sent to the cloud as the secret. The value itself is read
            // again at apply time and never kept.
            if std::env::var_os(name.as_str()).is_some_and(|v| v.is_empty()) {
                return Err(fault(
                    format!("${name} is set but empty: the secret would be an empty string"),
                    format!("export {name} with the secret's value before plan and apply"),
                    pos,
                ));
            }
            Ok(SecretSource {
                env: name.to_string(),
            })
        },
    );
}

#[cfg(test)]
mod tests {
    use super::secret_env_refusal;

    #[test]
    fn payruns_own_variables_are_refused() {
        for name in [
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "aws_profile",
            "KUBECONFIG",
            "KUBERNETES_SERVICE_HOST",
            "PAYRUN_LOG",
            "HELM_KUBETOKEN",
            "HOME",
            "PATH",
            "HTTPS_PROXY",
            "https_proxy",
            "",
            "DB-PASSWORD",
        ] {
            assert!(secret_env_refusal(name).is_some(), "{name}");
        }
        for name in ["DB_PASSWORD", "API_TOKEN", "STRIPE_KEY", "HOMEPAGE_TOKEN"] {
            assert_eq!(secret_env_refusal(name), None, "{name}");
        }
        assert_eq!(
            secret_env_refusal("AWS_SECRET_ACCESS_KEY").unwrap(),
            "AWS_* variables are payrun's own: the AWS SDK's credentials and settings"
        );
    }
}
