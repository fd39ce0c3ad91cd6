//! Policy bundles: classification, operations, the shipped profiles, the schema, and what an
//! invalid or hostile bundle gets.

mod classify;
mod invalid;
mod operations;
mod origins;
mod profiles;
mod robustness;
mod schema;
