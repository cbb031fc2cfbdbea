//! Whether a patch archive applies to a product: the Carbon kernel versions its README's
//! `Applies To` names (`All the products based on carbon 4.4.0, 4.4.1 and 4.4.2`,
//! `WSO2 CARBON-4.2.0`), else the kernel in its Patch ID (`WSO2-CARBON-PATCH-4.4.0-0016`),
//! against the kernel carbon-patch detects in the product. Pure.

use serde::Serialize;

use super::Readme;

/// The verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Applicability {
    /// The product's kernel is one the patch names.
    Applies { kernel: String },
    /// The patch names other kernels.
    Other { kernel: String, wanted: Vec<String> },
    /// Cannot tell: the product's kernel is unknown, or the patch names no kernel (a
    /// product patch, `Applies To: WSO2 Identity Server 5.3.0`).
    Unknown { why: String },
}

/// The kernels a README says the patch is for.
pub fn kernels(readme: &Readme) -> Vec<String> {
    let applies = readme.applies_to.to_lowercase();
    if applies.contains("carbon") {
        let listed = versions(&applies);
        if !listed.is_empty() {
            return listed;
        }
    }
    readme
        .id
        .to_lowercase()
        .strip_prefix("wso2-carbon-patch-")
        .map(versions)
        .unwrap_or_default()
        .into_iter()
        .take(1)
        .collect()
}

/// Every `a.b.c` version in `text`.
fn versions(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map(|w| w.trim_matches('.'))
        .filter(|w| {
            let parts: Vec<&str> = w.split('.').collect();
            parts.len() == 3 && parts.iter().all(|p| !p.is_empty())
        })
        .map(str::to_string)
        .collect()
}

/// Checks `readme` against the product's kernel (`None`: not detected).
pub fn check(readme: &Readme, kernel: Option<&str>) -> Applicability {
    let wanted = kernels(readme);
    match kernel {
        _ if wanted.is_empty() => Applicability::Unknown {
            why: format!(
                "its Applies To (`{}`) names no Carbon kernel",
                readme.applies_to
            ),
        },
        None => Applicability::Unknown {
            why: "the product's kernel could not be detected".into(),
        },
        Some(kernel) if wanted.iter().any(|w| w == kernel) => Applicability::Applies {
            kernel: kernel.to_string(),
        },
        Some(kernel) => Applicability::Other {
            kernel: kernel.to_string(),
            wanted,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readme(id: &str, applies_to: &str) -> Readme {
        Readme {
            id: id.into(),
            applies_to: applies_to.into(),
            jira: vec![],
            instructions: vec![],
        }
    }

    #[test]
    fn the_kernels_come_from_applies_to_then_from_the_patch_id() {
        let listed = readme(
            "WSO2-CARBON-PATCH-4.4.0-0016",
            "All the products based on carbon 4.4.0, 4.4.1 and 4.4.2",
        );
        assert_eq!(kernels(&listed), ["4.4.0", "4.4.1", "4.4.2"]);
        assert_eq!(
            kernels(&readme("WSO2-CARBON-PATCH-4.2.0-0008", "WSO2 CARBON-4.2.0")),
            ["4.2.0"]
        );
        assert_eq!(
            kernels(&readme(
                "WSO2-CARBON-PATCH-4.4.9-0001",
                "WSO2 API Manager 2.1.0"
            )),
            ["4.4.9"]
        );
        assert!(
            kernels(&readme(
                "WSO2-IS-PATCH-5.3.0-0001",
                "WSO2 Identity Server 5.3.0"
            ))
            .is_empty()
        );
    }

    #[test]
    fn a_patch_for_another_kernel_is_told_apart_from_one_nobody_can_judge() {
        let patch = readme("WSO2-CARBON-PATCH-4.4.0-0016", "carbon 4.4.0 and 4.4.1");
        assert!(matches!(
            check(&patch, Some("4.4.1")),
            Applicability::Applies { .. }
        ));
        assert_eq!(
            check(&patch, Some("4.4.9")),
            Applicability::Other {
                kernel: "4.4.9".into(),
                wanted: vec!["4.4.0".into(), "4.4.1".into()]
            }
        );
        assert!(matches!(check(&patch, None), Applicability::Unknown { .. }));
    }
}
