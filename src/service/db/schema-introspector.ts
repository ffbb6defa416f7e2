import { sql, type DatabaseIntrospector, type DatabaseMetadata, type DatabaseMetadataOptions, type Kysely, type SchemaMetadata, type TableMetadata } from 'kysely';

/**
 * A PostgreSQL introspector that sees only the service's own schema (the first of the search path), for
 * kysely's Migrator, which asks it whether its tables exist at every run.
 *
 * kysely's own introspector reads the tables of every schema of the database and calls functions that
 * look each schema and table up again by name (`has_schema_privilege`, `pg_get_serial_sequence`). A schema
 * or table another session drops while that query runs is still in the query's snapshot of the catalog
 * but no longer found by name: the query fails with `schema "…" does not exist` (or `relation … does not
 * exist`). That happened in the PostgreSQL test pass, where test processes create and drop schemas side by
 * side, and could happen to an instance migrating while another database user drops a schema. This one
 * reads only the catalog rows of `current_schema()` and calls no lookup by name.
 */
export class CurrentSchemaIntrospector implements DatabaseIntrospector {
  constructor(private readonly db: Kysely<unknown>) {}

  async getSchemas(): Promise<SchemaMetadata[]> {
    const { rows } = await sql<{ name: string }>`SELECT nspname AS name FROM pg_catalog.pg_namespace`.execute(this.db);
    return rows.map((row) => ({ name: row.name }));
  }

  async getTables(options: DatabaseMetadataOptions = { withInternalKyselyTables: false }): Promise<TableMetadata[]> {
    const { rows } = await sql<{ table: string; schema: string; kind: string; column: string; not_null: boolean; has_default: boolean; type: string; type_schema: string }>`
      SELECT c.relname AS table, ns.nspname AS schema, c.relkind AS kind, a.attname AS column, a.attnotnull AS not_null,
             a.atthasdef AS has_default, typ.typname AS type, dtns.nspname AS type_schema
      FROM pg_catalog.pg_attribute a
      JOIN pg_catalog.pg_class c ON a.attrelid = c.oid
      JOIN pg_catalog.pg_namespace ns ON c.relnamespace = ns.oid
      JOIN pg_catalog.pg_type typ ON a.atttypid = typ.oid
      JOIN pg_catalog.pg_namespace dtns ON typ.typnamespace = dtns.oid
      WHERE ns.nspname = current_schema() AND c.relkind IN ('r', 'v', 'p') AND a.attnum >= 0 AND NOT a.attisdropped
      ORDER BY c.relname, a.attnum`.execute(this.db);
    const tables = new Map<string, { name: string; schema: string; isView: boolean; columns: TableMetadata['columns'][number][] }>();
    for (const row of rows) {
      if (!options.withInternalKyselyTables && row.table.startsWith('kysely_')) continue;
      let table = tables.get(row.table);
      if (table === undefined) {
        table = { name: row.table, schema: row.schema, isView: row.kind === 'v', columns: [] };
        tables.set(row.table, table);
      }
      table.columns.push({ name: row.column, dataType: row.type, dataTypeSchema: row.type_schema, isNullable: !row.not_null, hasDefaultValue: row.has_default, isAutoIncrementing: false });
    }
    return [...tables.values()];
  }

  async getMetadata(options?: DatabaseMetadataOptions): Promise<DatabaseMetadata> {
    return { tables: await this.getTables(options) };
  }
}
