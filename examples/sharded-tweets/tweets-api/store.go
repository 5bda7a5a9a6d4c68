package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Tweet is one row of the tweets table. Every column but id is nullable in the table, and rows
// written through the base database need not come from this service, so NULLs are kept as
// JSON null instead of failing the scan.
type Tweet struct {
	ID        int64   `json:"id"`
	Location  *string `json:"location"`
	Text      *string `json:"text"`
	OwnerID   *int64  `json:"owner_id"`
	LikeCount *int32  `json:"like_count"`
}

// NewTweet is a validated POST /tweets body. A nil OwnerID or LikeCount means "not given": the
// column's DEFAULT applies (NULL when it has none). There is no ID: the table's id DEFAULT (a
// shard-local sequence) chooses it, see README.md.
type NewTweet struct {
	Location  string
	Text      string
	OwnerID   *int64
	LikeCount *int32
}

// ErrNotFound is returned by Store.Get for an id that has no row.
var ErrNotFound = errors.New("tweet not found")

// Store is what the HTTP handlers need from the database.
type Store interface {
	List(ctx context.Context, limit, offset int) ([]Tweet, error)
	Get(ctx context.Context, id int64) (Tweet, error)
	Create(ctx context.Context, t NewTweet) (Tweet, error)
	Ping(ctx context.Context) error
}

// pgStore is the Store over a PostgreSQL table (through lib/pq).
type pgStore struct {
	db *sql.DB
	// Statements with the quoted table name already in them.
	listSQL, getSQL, insertSQL string
}

// columns lists the columns explicitly (rather than *) so that a table with extra columns or
// another column order still scans.
const columns = "id, location, text, owner_id, like_count"

func newPGStore(db *sql.DB, quotedTable string) *pgStore {
	return &pgStore{
		db:      db,
		listSQL: fmt.Sprintf("SELECT %s FROM %s ORDER BY id LIMIT $1 OFFSET $2", columns, quotedTable),
		getSQL:  fmt.Sprintf("SELECT %s FROM %s WHERE id = $1", columns, quotedTable),
		// id is left out on purpose: its DEFAULT draws from the shard's own sequence.
		// owner_id and like_count are each a parameter or DEFAULT, filled in by Create.
		insertSQL: fmt.Sprintf("INSERT INTO %s (location, text, owner_id, like_count) VALUES ($1, $2, %%s, %%s) RETURNING %s", quotedTable, columns),
	}
}

type scanner interface{ Scan(dest ...any) error }

func scanTweet(s scanner) (Tweet, error) {
	var t Tweet
	var loc, text sql.NullString
	var owner sql.NullInt64
	var likes sql.NullInt32
	if err := s.Scan(&t.ID, &loc, &text, &owner, &likes); err != nil {
		return Tweet{}, err
	}
	if loc.Valid {
		t.Location = &loc.String
	}
	if text.Valid {
		t.Text = &text.String
	}
	if owner.Valid {
		t.OwnerID = &owner.Int64
	}
	if likes.Valid {
		t.LikeCount = &likes.Int32
	}
	return t, nil
}

func (s *pgStore) List(ctx context.Context, limit, offset int) ([]Tweet, error) {
	rows, err := s.db.QueryContext(ctx, s.listSQL, limit, offset)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	tweets := []Tweet{}
	for rows.Next() {
		t, err := scanTweet(rows)
		if err != nil {
			return nil, err
		}
		tweets = append(tweets, t)
	}
	return tweets, rows.Err()
}

func (s *pgStore) Get(ctx context.Context, id int64) (Tweet, error) {
	t, err := scanTweet(s.db.QueryRowContext(ctx, s.getSQL, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Tweet{}, ErrNotFound
	}
	return t, err
}

func (s *pgStore) Create(ctx context.Context, n NewTweet) (Tweet, error) {
	args := []any{n.Location, n.Text}
	owner, likes := "DEFAULT", "DEFAULT"
	if n.OwnerID != nil {
		args = append(args, *n.OwnerID)
		owner = fmt.Sprintf("$%d", len(args))
	}
	if n.LikeCount != nil {
		args = append(args, *n.LikeCount)
		likes = fmt.Sprintf("$%d", len(args))
	}
	return scanTweet(s.db.QueryRowContext(ctx, fmt.Sprintf(s.insertSQL, owner, likes), args...))
}

func (s *pgStore) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }
