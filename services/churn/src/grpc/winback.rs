//! GetWinBackList: stored scores ranked by value at risk, filtered by
//! region, minimum value and segment, and by consent on the campaign's
//! channel as the profile service knows it at request time.

use std::collections::HashSet;

use patron_common::{ServiceError, Validator};
use patron_proto::churn::v1 as pb;
use patron_proto::profile::v1::ConsentChannel;

use crate::grpc::ChurnApi;
use crate::grpc::pages::{self, Position};
use crate::grpc::scoring::{decode_score, page_size};
use crate::profile::ExportQuery;
use crate::store::scores;
use crate::time::now_micros;

const PAGE_DEFAULT: u64 = 100;
const PAGE_MAX: u64 = 1_000;
/// Stored scores read per consent look-up.
const CHUNK: u64 = 500;

impl ChurnApi {
    pub(super) async fn win_back_list(
        &self,
        request: pb::GetWinBackListRequest,
    ) -> Result<pb::GetWinBackListResponse, ServiceError> {
        let mut v = Validator::new();
        let size = match page_size(request.page_size, PAGE_DEFAULT, PAGE_MAX) {
            Ok(size) => size,
            Err(_) => {
                v.violation("page_size", "must not be negative");
                PAGE_DEFAULT
            }
        };
        match ConsentChannel::try_from(request.channel) {
            Ok(ConsentChannel::Unspecified) => v.violation("channel", "is required: the channel the campaign will use"),
            Ok(_) => {}
            Err(_) => v.violation("channel", format!("unknown channel {}", request.channel)),
        }
        v.text("region", &request.region, 256);
        v.text("segment_id", &request.segment_id, 128);
        v.finish()?;

        let filter = format!(
            "channel={};segment={};region={};min={:?}",
            request.channel,
            request.segment_id,
            request.region,
            request.min_value_at_risk.as_ref().map(|m| (&m.currency_code, m.amount_minor))
        );
        let (run, mut position) = if request.page_token.is_empty() {
            let run = scores::latest_run(&self.db).await?;
            let position = Position {
                run_id: run.id.clone(),
                filter: filter.clone(),
                value: i64::MAX,
                customer_id: String::new(),
                served: 0,
            };
            (run, position)
        } else {
            let position = pages::decode(&request.page_token, &filter)?;
            (scores::pinned_run(&self.db, &position.run_id).await?, position)
        };
        let loaded = self.models.get(&run.model_id).await?;
        let currency = &loaded.model.model.settings.currency_code;
        let min_value = match &request.min_value_at_risk {
            Some(money) if &money.currency_code != currency => {
                return Err(ServiceError::invalid(
                    "min_value_at_risk.currency_code",
                    format!("must be the model's currency {currency}"),
                ));
            }
            Some(money) => Some(money.amount_minor),
            None => None,
        };
        let members = if request.segment_id.is_empty() {
            None
        } else {
            Some(self.segmentation.members(&request.segment_id).await?)
        };

        let mut candidates = Vec::new();
        let mut exhausted = false;
        while (candidates.len() as u64) < size && !exhausted {
            let after = (position.served > 0 || !position.customer_id.is_empty())
                .then_some((position.value, position.customer_id.as_str()));
            let rows = scores::ranked(&self.db, &run.id, after, &request.region, min_value, CHUNK).await?;
            exhausted = (rows.len() as u64) < CHUNK;
            let rows: Vec<_> = match &members {
                Some(members) => rows.into_iter().filter(|r| members.contains(&r.customer_id)).collect(),
                None => rows,
            };
            let consenting = self.consenting(&rows, request.channel, currency).await?;
            for row in rows {
                if (candidates.len() as u64) == size {
                    exhausted = false;
                    break;
                }
                position.value = row.value_at_risk_minor;
                position.customer_id = row.customer_id.clone();
                if !consenting.contains(&row.customer_id) {
                    continue;
                }
                position.served += 1;
                candidates.push(pb::WinBackCandidate {
                    rank: position.served,
                    score: Some(decode_score(&row.score)?),
                    segment_id: request.segment_id.clone(),
                    region: row.region,
                });
            }
        }
        // A full page may be the last one; the next call then returns an empty page.
        let next_page_token = if exhausted { String::new() } else { pages::encode(&position) };
        Ok(pb::GetWinBackListResponse { candidates, next_page_token })
    }

    /// The customers among `rows` whose consent on `channel` is GRANTED now.
    async fn consenting(
        &self,
        rows: &[crate::store::entities::customer_score::Model],
        channel: i32,
        currency: &str,
    ) -> Result<HashSet<String>, ServiceError> {
        if rows.is_empty() {
            return Ok(HashSet::new());
        }
        let ids: Vec<String> = rows.iter().map(|r| r.customer_id.clone()).collect();
        let query = ExportQuery {
            as_of_us: now_micros(),
            time_unit: crate::domain::settings::TimeUnit::Days,
            currency_code: currency,
            customer_ids: &ids,
            include_non_buyers: true,
        };
        let snapshots = self.profile.export(&query, |_| {}).await?;
        Ok(snapshots.into_iter().filter(|s| s.consents_granted.contains(&channel)).map(|s| s.customer_id).collect())
    }
}
