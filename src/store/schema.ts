/** Table types for the query builder; one interface per table. */
export interface SettingsTable {
  key: string;
  /** JSON-encoded value. */
  value: string;
  /** Unix epoch milliseconds. */
  updated_at: number;
}

export interface Database {
  settings: SettingsTable;
}
