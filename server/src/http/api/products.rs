//! Products: the catalog's read records, and the commands on products,
//! their stock and their reviews.

use super::{CommandRequest, ReceiptJson};
use crate::http::error::ApiError;
use crate::http::json_body::JsonBody;
use crate::AppState;
use app::ports::{CatalogCommands, ReviewCommands};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use domain::inventory::AdjustInventory;
use domain::product::{
    ChangePrice, CreateProduct, DeleteProduct, ProductDetails, ShippingOption, UpdateProductDetails,
};
use domain::review::SubmitReview;
use domain::{authz, CustomerId, ProductId, SellerId};

pub(super) fn product_id(text: &str) -> Result<ProductId, ApiError> {
    text.parse()
        .map_err(|_| ApiError::not_found(format!("product {text} does not exist")))
}

const DETAIL_FIELDS: [&str; 6] = [
    "name",
    "description",
    "category",
    "tags",
    "imageUrl",
    "shippingOptions",
];

fn shipping_options(body: &JsonBody) -> Result<Option<Vec<ShippingOption>>, ApiError> {
    let Some(options) = body.optional_objects("shippingOptions")? else {
        return Ok(None);
    };
    options
        .iter()
        .map(|o| {
            o.only(&["name", "price", "days"], &[])?;
            let days = o.integer("days")?;
            Ok(ShippingOption {
                name: o.string("name")?,
                price: o.money("price")?,
                days: u16::try_from(days).unwrap_or(0),
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()
        .map(Some)
}

pub(super) async fn create_product(
    State(state): State<AppState>,
    CommandRequest { meta, body }: CommandRequest,
) -> Result<Response, ApiError> {
    let mut known = DETAIL_FIELDS.to_vec();
    known.extend(["price", "stock", "sellerId"]);
    body.only(&known, &[])?;
    let seller_id = match body.optional_string("sellerId")? {
        None => None,
        Some(s) => Some(
            s.parse::<SellerId>()
                .map_err(|_| ApiError::invalid("sellerId", format!("seller {s} does not exist")))?,
        ),
    };
    let command = CreateProduct {
        product_id: ProductId::new(),
        seller_id,
        details: ProductDetails {
            name: body.string("name")?,
            description: body.optional_string("description")?.unwrap_or_default(),
            category: body.string("category")?,
            tags: body.optional_strings("tags")?.unwrap_or_default(),
            image_url: body.optional_string("imageUrl")?,
            shipping_options: shipping_options(&body)?.unwrap_or_default(),
        },
        price: body.money("price")?,
        stock: body.count("stock")?,
    };
    let receipt = state.catalog_commands.create_product(meta, command).await?;
    let location = format!("/api/products/{}", receipt.aggregate_id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(ReceiptJson::new("productId", receipt)),
    )
        .into_response())
}

/// `PATCH /api/products/{id}`: the price (with `expectedVersion`,
/// `overridePriceCut`) or catalog details — one or the other per request,
/// so each answer is one command's receipt.
pub(super) async fn edit_product(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CommandRequest { meta, body }: CommandRequest,
) -> Result<Json<ReceiptJson>, ApiError> {
    let product_id = product_id(&id)?;
    let mut known = DETAIL_FIELDS.to_vec();
    known.extend(["price", "expectedVersion", "overridePriceCut"]);
    body.only(&known, &[])?;
    let details_given = DETAIL_FIELDS.iter().any(|f| body.present(f));
    let commands = &state.catalog_commands;
    let receipt = if body.present("price") {
        if details_given {
            return Err(ApiError::invalid(
                "price",
                "change the price in its own request (price, expectedVersion, overridePriceCut)",
            ));
        }
        let command = ChangePrice {
            product_id,
            price: body.money("price")?,
            expected_version: body.optional_version("expectedVersion")?,
            override_price_cut: body.optional_bool("overridePriceCut")?,
        };
        commands.change_price(meta, command).await?
    } else if details_given {
        let image_url = if body.present("imageUrl") {
            Some(body.optional_string("imageUrl")?)
        } else {
            None
        };
        let command = UpdateProductDetails {
            product_id,
            name: body.optional_string("name")?,
            description: body.optional_string("description")?,
            category: body.optional_string("category")?,
            tags: body.optional_strings("tags")?,
            image_url,
            shipping_options: shipping_options(&body)?,
            expected_version: body.optional_version("expectedVersion")?,
        };
        commands.update_product_details(meta, command).await?
    } else {
        return Err(ApiError::invalid(
            "price",
            "send the price or at least one detail (name, description, category, tags, imageUrl, shippingOptions)",
        ));
    };
    Ok(Json(ReceiptJson::new("productId", receipt)))
}

pub(super) async fn delete_product(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CommandRequest { meta, body }: CommandRequest,
) -> Result<Json<ReceiptJson>, ApiError> {
    let product_id = product_id(&id)?;
    body.only(&["reason", "expectedVersion"], &[])?;
    let command = DeleteProduct {
        product_id,
        reason: body.string("reason")?,
        expected_version: body.optional_version("expectedVersion")?,
    };
    let receipt = state.catalog_commands.delete_product(meta, command).await?;
    Ok(Json(ReceiptJson::new("productId", receipt)))
}

/// `POST /api/products/{id}/stock` `{"delta", "reason", "expectedVersion"?}`.
pub(super) async fn adjust_stock(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CommandRequest { meta, body }: CommandRequest,
) -> Result<Json<ReceiptJson>, ApiError> {
    let product_id = product_id(&id)?;
    body.only(&["delta", "reason", "expectedVersion"], &[])?;
    let command = AdjustInventory {
        product_id,
        delta: body.integer("delta")?,
        reason: body.string("reason")?,
        expected_version: body.optional_version("expectedVersion")?,
    };
    let receipt = state
        .catalog_commands
        .adjust_inventory(meta, command)
        .await?;
    Ok(Json(ReceiptJson::new("productId", receipt)))
}

/// `POST /api/products/{id}/reviews` `{"rating", "comment"}`; the review is
/// the signed-in customer's (staff may name a `customerId`).
pub(super) async fn submit_review(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CommandRequest { meta, body }: CommandRequest,
) -> Result<Response, ApiError> {
    let product_id = product_id(&id)?;
    body.only(&["rating", "comment", "customerId"], &[])?;
    let customer_id = customer_for(&body, &meta.actor)?;
    let command = SubmitReview {
        product_id,
        customer_id,
        rating: body.integer("rating")?,
        comment: body.string("comment")?,
    };
    let receipt = state.reviews.submit_review(meta, command).await?;
    Ok((
        StatusCode::CREATED,
        Json(ReceiptJson::new("reviewId", receipt)),
    )
        .into_response())
}

/// The customer a request acts for: the body's `customerId`, or the caller.
pub(super) fn customer_for(body: &JsonBody, actor: &domain::Actor) -> Result<CustomerId, ApiError> {
    match body.optional_string("customerId")? {
        Some(text) => text.parse::<CustomerId>().map_err(|_| {
            ApiError::invalid("customerId", format!("customer {text} does not exist"))
        }),
        None => authz::customer_of(actor).ok_or_else(|| {
            ApiError::invalid(
                "customerId",
                "is required when the caller is not a customer",
            )
        }),
    }
}
