//! A human label for a session's device, from its User-Agent ("Firefox on Linux"), for
//! session lists. Best effort by design: it names, it never decides.

/// Browsers in the order they must be tested: Edge and Opera also say "Chrome", and
/// Chrome also says "Safari".
const BROWSERS: &[(&str, &str)] = &[
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chromium/", "Chromium"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
];

/// Operating systems, in test order: Android says "Linux", iOS says "Mac OS X".
const SYSTEMS: &[(&str, &str)] = &[
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("Macintosh", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
];

/// Programs that are not browsers, by the product token they start with.
const PROGRAMS: &[(&str, &str)] = &[
    ("curl/", "curl"),
    ("Wget/", "Wget"),
    ("HTTPie/", "HTTPie"),
    ("python-requests/", "Python requests"),
    ("python-httpx/", "Python httpx"),
    ("okhttp/", "OkHttp"),
    ("Go-http-client/", "Go"),
    ("PostmanRuntime/", "Postman"),
    ("node-fetch", "Node.js"),
    ("reqwest", "Rust reqwest"),
];

/// "Firefox on Linux", "Safari on iOS", "curl", or "Unknown device".
pub fn device_label(user_agent: Option<&str>) -> String {
    let Some(agent) = user_agent.map(str::trim).filter(|agent| !agent.is_empty()) else {
        return "Unknown device".to_owned();
    };
    if let Some((_, program)) = PROGRAMS.iter().find(|(token, _)| agent.starts_with(token)) {
        return (*program).to_owned();
    }
    let browser = BROWSERS
        .iter()
        .find(|(token, _)| agent.contains(token))
        .map(|(_, name)| *name);
    let system = SYSTEMS
        .iter()
        .find(|(token, _)| agent.contains(token))
        .map(|(_, name)| *name);
    match (browser, system) {
        (Some(browser), Some(system)) => format!("{browser} on {system}"),
        (Some(browser), None) => browser.to_owned(),
        (None, Some(system)) => format!("Unknown browser on {system}"),
        (None, None) => {
            // The product token of an unknown program, e.g. "MyApp/2.1 (...)" → "MyApp".
            let product: String = agent
                .split(['/', ' '])
                .next()
                .unwrap_or_default()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                .take(40)
                .collect();
            if product.is_empty() {
                "Unknown device".to_owned()
            } else {
                product
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::device_label;

    #[test]
    fn browsers_are_named_with_their_system() {
        let cases = [
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
                "Firefox on Linux",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
                "Edge on Windows",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
                "Chrome on macOS",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
                "Safari on iOS",
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36",
                "Chrome on Android",
            ),
        ];
        for (agent, label) in cases {
            assert_eq!(device_label(Some(agent)), label, "{agent}");
        }
    }

    #[test]
    fn programs_are_named_by_their_product() {
        assert_eq!(device_label(Some("curl/7.88.1")), "curl");
        assert_eq!(
            device_label(Some("python-requests/2.32.3")),
            "Python requests"
        );
        assert_eq!(device_label(Some("MyApp/2.1 (build 7)")), "MyApp");
    }

    #[test]
    fn a_missing_or_unreadable_agent_is_an_unknown_device() {
        assert_eq!(device_label(None), "Unknown device");
        assert_eq!(device_label(Some("   ")), "Unknown device");
        assert_eq!(device_label(Some("<script>/1")), "script");
        assert_eq!(device_label(Some("!!!")), "Unknown device");
    }
}
