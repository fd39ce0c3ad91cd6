//! RFC conformance, natively: the RFC 9111 scenario set (plain and under the shipped default
//! profile), the RFC's own clauses, real origins' recorded answers, and URL and audience
//! parsing against independent implementations.

mod audience_differential;
mod conformance;
mod conformance_default;
mod real_origins;
mod rfc9111;
mod url_differential;
