//! The worked example: estimate several tasking requests concurrently on one client, handling
//! every outcome with the detailed form.
//!
//! Run with `cargo run -p geopera --example tasking_estimate`.

mod support;

use futures::future::join_all;
use geopera::models::{TaskingEstimateInput, TaskingEstimateOutput};
use geopera::operations::orders_tasking_estimate;
use geopera::{AuthenticatedClient, Error, Parsed};
use serde_json::json;

/// One estimate; every way it can go wrong becomes a message, as in the Python example.
async fn estimate(
    client: &AuthenticatedClient,
    body: TaskingEstimateInput,
) -> Result<TaskingEstimateOutput, String> {
    let response = orders_tasking_estimate::send_detailed(client, body)
        .await
        .map_err(|error: Error| error.to_string())?;
    match response.parsed {
        Parsed::Success(estimate) => Ok(estimate),
        Parsed::Validation(invalid) => Err(format!("invalid request: {invalid}")),
        Parsed::Problem(problem) => Err(format!("{}: {}", problem.title, problem.detail)),
        // `Parsed` is non-exhaustive: a later version may parse more kinds of answer.
        _ => Err(format!("unexpected status {}", response.status)),
    }
}

fn area(west: f64, south: f64, east: f64, north: f64) -> geopera::JsonObject {
    let polygon = json!({
        "aoi": {"type": "Polygon", "coordinates": [[[west, south], [east, south], [east, north], [west, north], [west, south]]]},
        "product": "optical-50cm",
        "window": {"start": "2026-12-01T00:00:00Z", "end": "2026-12-31T00:00:00Z"}
    });
    polygon.as_object().cloned().unwrap_or_default()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = support::target()?;
    let client = AuthenticatedClient::new(&target.base_url, &target.token)?;
    let bodies = vec![
        TaskingEstimateInput::new().groups(vec![area(151.1, -33.9, 151.3, -33.7)]),
        TaskingEstimateInput::new().groups(vec![
            area(144.9, -37.9, 145.1, -37.7),
            area(153.0, -27.5, 153.1, -27.4),
        ]),
    ];
    let estimates = join_all(bodies.into_iter().map(|body| estimate(&client, body))).await;
    for (i, outcome) in estimates.iter().enumerate() {
        match outcome {
            Ok(e) => println!(
                "estimate {i}: A${:.2} ({} credits)",
                e.total_aud, e.total_credits
            ),
            Err(error) => println!("estimate {i} failed: {error}"),
        }
    }
    Ok(())
}
