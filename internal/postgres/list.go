package postgres

import (
	"context"
	"fmt"
)

// The objects of one kind that exist in a database, for the list resources (terraform query):
// each with the import ID of the resource that manages such an object, in the form the
// resource's import takes.

// ListKind is a kind of object a list resource finds.
type ListKind string

// The kinds of objects, by the resource type that manages them.
const (
	ListKindExtension        ListKind = "extension"
	ListKindServer           ListKind = "foreign_server"
	ListKindUserMapping      ListKind = "user_mapping"
	ListKindServerUsage      ListKind = "foreign_server_usage"
	ListKindPartitionedTable ListKind = "partitioned_table"
	ListKindPartition        ListKind = "partition"
	ListKindForeignPartition ListKind = "foreign_partition"
	ListKindTable            ListKind = "table"
	ListKindSchemaImport     ListKind = "foreign_schema_import"
	ListKindTimePartitions   ListKind = "time_partitions"
	ListKindSettings         ListKind = "settings"
)

// ListFilter narrows a list; an empty field does not.
type ListFilter struct {
	Schema string // the objects' schema (tables and partitions)
	// Parent, as schema and name, is the partitioned table whose direct partitions are listed.
	ParentSchema, ParentName string
	Server                   string // the foreign server (mappings, grants, foreign partitions)
}

// relationListSQL lists relations of one relkind, partitions or not (NULL: either), outside
// the system schemas and not members of an extension, with their parent and server.
const relationListSQL = `
SELECT n.nspname, c.relname
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_inherits i ON i.inhrelid = c.oid AND c.relispartition
LEFT JOIN pg_class pc ON pc.oid = i.inhparent
LEFT JOIN pg_namespace pn ON pn.oid = pc.relnamespace
LEFT JOIN pg_foreign_table ft ON ft.ftrelid = c.oid
LEFT JOIN pg_foreign_server s ON s.oid = ft.ftserver
WHERE c.relkind = $1::"char" AND ($2::bool IS NULL OR c.relispartition = $2)
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
  AND ($3 = '' OR n.nspname = $3)
  AND ($4 = '' OR (pn.nspname = $4 AND pc.relname = $5))
  AND ($6 = '' OR s.srvname = $6)
ORDER BY 1, 2`

// ListObjects returns the import IDs of the objects of kind in the database, in order.
func ListObjects(ctx context.Context, q Querier, kind ListKind, f ListFilter) ([]string, error) {
	var stmt string
	var args []any
	sep := byte('/')
	switch kind {
	case ListKindExtension:
		stmt = `SELECT extname FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY 1`
	case ListKindServer:
		stmt, args = `SELECT srvname FROM pg_foreign_server WHERE $1 = '' OR srvname = $1 ORDER BY 1`, []any{f.Server}
	case ListKindUserMapping:
		stmt = `SELECT srvname, CASE WHEN umuser = 0 THEN '` + PublicRole + `' ELSE usename END FROM pg_user_mappings WHERE $1 = '' OR srvname = $1 ORDER BY 1, 2`
		args = []any{f.Server}
	case ListKindServerUsage:
		stmt = `SELECT DISTINCT s.srvname, CASE WHEN a.grantee = 0 THEN '` + PublicRole + `' ELSE r.rolname END
FROM pg_foreign_server s CROSS JOIN LATERAL aclexplode(s.srvacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee
WHERE a.privilege_type = 'USAGE' AND a.grantee <> s.srvowner AND ($1 = '' OR s.srvname = $1) ORDER BY 1, 2`
		args = []any{f.Server}
	case ListKindPartitionedTable, ListKindPartition, ListKindForeignPartition, ListKindTable:
		relkind, partition := map[ListKind]RelKind{ListKindPartitionedTable: RelPartitioned, ListKindPartition: RelTable, ListKindForeignPartition: RelForeign, ListKindTable: RelTable}[kind], any(nil)
		switch kind {
		case ListKindPartition, ListKindForeignPartition:
			partition = true
		case ListKindTable:
			partition = false
		}
		stmt, args, sep = relationListSQL, []any{string(relkind), partition, f.Schema, f.ParentSchema, f.ParentName, f.Server}, '.'
	case ListKindSchemaImport:
		// The foreign tables IMPORT FOREIGN SCHEMA makes (not partitions, table_name their own
		// name), by local schema, server and remote schema: what pgshard_foreign_schema_import
		// reads as one import.
		stmt = `
SELECT DISTINCT n.nspname, s.srvname, coalesce((SELECT substr(o, 13) FROM unnest(ft.ftoptions) o WHERE starts_with(o, 'schema_name=')), n.nspname)
FROM pg_foreign_table ft
JOIN pg_class c ON c.oid = ft.ftrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_foreign_server s ON s.oid = ft.ftserver
WHERE NOT c.relispartition
  AND coalesce((SELECT substr(o, 12) FROM unnest(ft.ftoptions) o WHERE starts_with(o, 'table_name=')), c.relname) = c.relname
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
  AND ($1 = '' OR n.nspname = $1) AND ($2 = '' OR s.srvname = $2)
ORDER BY 1, 2, 3`
		args = []any{f.Schema, f.Server}
	case ListKindTimePartitions:
		// The parents pgshard_time_partitions can keep: RANGE on one date, timestamp or
		// timestamptz column (TimeKeyOf).
		stmt = `
SELECT n.nspname, c.relname
FROM pg_partitioned_table pt
JOIN pg_class c ON c.oid = pt.partrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = pt.partattrs[0]
WHERE pt.partstrat = 'r' AND pt.partnatts = 1 AND pt.partattrs[0] <> 0
  AND a.atttypid IN ('date'::regtype, 'timestamp'::regtype, 'timestamptz'::regtype)
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
  AND ($1 = '' OR n.nspname = $1)
ORDER BY 1, 2`
		args, sep = []any{f.Schema}, '.'
	case ListKindSettings:
		// The provider's database's settings and its roles' there; a role's settings for
		// every database are the cluster's, not this database's.
		stmt = `
SELECT coalesce(d.datname, ''), coalesce(r.rolname, '')
FROM pg_db_role_setting s
LEFT JOIN pg_database d ON d.oid = s.setdatabase
LEFT JOIN pg_roles r ON r.oid = s.setrole
WHERE d.datname = current_database() AND (s.setrole = 0 OR r.oid IS NOT NULL)
ORDER BY 1, 2`
	default:
		return nil, fmt.Errorf("no list of %q", kind)
	}
	rows, err := q.QueryContext(ctx, stmt, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var ids []string
	for rows.Next() {
		parts := make([]string, len(cols))
		dest := make([]any, len(cols))
		for i := range parts {
			dest[i] = &parts[i]
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		ids = append(ids, JoinID(sep, parts...))
	}
	return ids, rows.Err()
}
