//! The SQL of `alertrouter export` and `import`: every table's rows as JSON objects, read in one
//! snapshot, and written back by column name into an empty database of this schema or a newer
//! one (a column the file lacks takes its default; one the schema lacks is reported).

use futures_util::TryStreamExt;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};

/// The tables exported, in an order that satisfies their foreign keys, each with the columns
/// that order its rows (so two exports of the same state are the same file). `_sqlx_migrations`
/// is not state: import migrates the target itself.
pub const TABLES: &[(&str, &str)] = &[
    ("incident_groups", "id"),
    ("incidents", "number"),
    ("alerts", "group_id, fingerprint, starts_at"),
    ("incident_events", "id"),
    ("outbox", "id"),
    ("slack_messages", "incident_id, target"),
    ("incident_reports", "incident_id"),
    ("report_ids", "base"),
    ("audit_log", "id"),
    ("action_links", "nonce"),
    ("sms_opt_outs", "phone"),
    ("maintenance_windows", "id"),
    ("schedule_overrides", "id"),
    ("disabled_webhooks", "name"),
    ("seen_callbacks", "source, key"),
    ("heartbeats", "integration"),
];

/// A read-only transaction on one snapshot: the tables are read as of one moment while the
/// service goes on writing.
pub async fn snapshot(pool: &PgPool) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("set transaction isolation level repeatable read, read only")
        .execute(&mut *tx)
        .await?;
    unlimited(&mut tx).await?;
    Ok(tx)
}

/// Lifts `database.statement_timeout` for this transaction: reading or writing a whole
/// database takes as long as it takes.
pub async fn unlimited(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("set local statement_timeout = 0")
        .execute(conn)
        .await?;
    Ok(())
}

/// Calls `row` with each row of `table` as a JSON object, in order.
pub async fn each_row(
    conn: &mut PgConnection,
    table: &str,
    mut row: impl FnMut(&str) -> std::io::Result<()>,
) -> Result<u64, BackupError> {
    let order = order_of(table)?;
    let sql = format!("select row_to_json(t)::text from {table} t order by {order}");
    let mut rows = sqlx::query_scalar::<_, String>(&sql).fetch(conn);
    let mut n = 0;
    while let Some(json) = rows.try_next().await? {
        row(&json)?;
        n += 1;
    }
    Ok(n)
}

/// The first table of [`TABLES`] that holds any row, if one does.
pub async fn first_nonempty(conn: &mut PgConnection) -> Result<Option<&'static str>, sqlx::Error> {
    for (table, _) in TABLES {
        let any: bool = sqlx::query_scalar(&format!("select exists (select 1 from {table})"))
            .fetch_one(&mut *conn)
            .await?;
        if any {
            return Ok(Some(table));
        }
    }
    Ok(None)
}

/// The columns `table` has in this schema.
pub async fn columns(conn: &mut PgConnection, table: &str) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "select column_name::text from information_schema.columns
         where table_schema = current_schema() and table_name = $1 order by ordinal_position",
    )
    .bind(table)
    .fetch_all(conn)
    .await
}

/// Inserts `rows` (a JSON array of objects) into `table`, setting `columns` from them; identity
/// columns keep the exported values.
pub async fn insert(
    conn: &mut PgConnection,
    table: &str,
    columns: &[String],
    rows: &str,
) -> Result<u64, BackupError> {
    order_of(table)?;
    let list = columns
        .iter()
        .map(|c| format!("\"{}\"", c.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "insert into {table} ({list}) overriding system value
         select {list} from jsonb_populate_recordset(null::{table}, $1::jsonb)"
    );
    let done = sqlx::query(&sql).bind(rows).execute(conn).await?;
    Ok(done.rows_affected())
}

/// Moves every identity sequence past the imported values, so new rows do not collide.
pub async fn reset_identities(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    let identities: Vec<(String, String)> = sqlx::query_as(
        "select table_name::text, column_name::text from information_schema.columns
         where table_schema = current_schema() and is_identity = 'YES'",
    )
    .fetch_all(&mut *conn)
    .await?;
    for (table, column) in identities {
        sqlx::query(&format!(
            "select setval(pg_get_serial_sequence($1, $2), coalesce(max(\"{column}\"), 0) + 1, false)
             from {table}"
        ))
        .bind(&table)
        .bind(&column)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The ordering of a table in [`TABLES`]; a name not in it is refused before it reaches SQL.
fn order_of(table: &str) -> Result<&'static str, BackupError> {
    TABLES
        .iter()
        .find(|(t, _)| *t == table)
        .map(|(_, order)| *order)
        .ok_or_else(|| BackupError::Format(format!("unknown table {table:?}")))
}

/// What went wrong exporting or importing.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Format(String),
}
