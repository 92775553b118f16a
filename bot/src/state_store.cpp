#include "bot/state_store.hpp"

#include <SQLiteCpp/SQLiteCpp.h>

#include <stdexcept>

namespace opalebot::bot {
namespace {
constexpr int schema_version = 1;

Error storage_error(const std::exception& e)
{
    return Error{Error::Kind::storage, 0, {}, e.what(), {}};
}
} // namespace

StateStore::StateStore(const std::string& path)
    : db_(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_FULLMUTEX)
{
    db_.exec("PRAGMA journal_mode = WAL");
    db_.exec("PRAGMA synchronous = NORMAL");
    db_.exec("PRAGMA foreign_keys = ON");
    db_.setBusyTimeout(5000);
    migrate();
}

void StateStore::migrate()
{
    SQLite::Transaction transaction{db_}; // rolls back on throw
    switch (db_.execAndGet("PRAGMA user_version").getInt()) {
    case 0:
        db_.exec("CREATE TABLE questions ("
                 " id INTEGER PRIMARY KEY,"
                 " asked_at INTEGER NOT NULL,"
                 " room TEXT NOT NULL,"
                 " sender TEXT NOT NULL,"
                 " question TEXT,"
                 " kind TEXT NOT NULL,"
                 " entry_id TEXT,"
                 " score REAL NOT NULL)");
        db_.exec("CREATE INDEX questions_asked_at ON questions(asked_at)");
        [[fallthrough]];
    case schema_version: // append new steps above this line, never edit old ones
        break;
    default:
        throw std::runtime_error("the state database is newer than this build of opale-bot");
    }
    db_.exec("PRAGMA user_version = " + std::to_string(schema_version));
    transaction.commit();
}

Result<Done> StateStore::record_question(const QuestionRecord& record)
try {
    SQLite::Statement insert{db_, "INSERT INTO questions (asked_at, room, sender, question, kind, "
                                  "entry_id, score) VALUES (?, ?, ?, ?, ?, ?, ?)"};
    insert.bind(1, record.asked_at);
    insert.bind(2, record.room);
    insert.bind(3, record.sender);
    insert.bind(4, record.question);
    insert.bind(5, record.kind);
    if (record.entry_id.empty())
        insert.bind(6);
    else
        insert.bind(6, record.entry_id);
    insert.bind(7, record.score);
    insert.exec();
    return Done{};
} catch (const std::exception& e) {
    return storage_error(e);
}

Result<int> StateStore::purge_questions(std::int64_t before)
try {
    SQLite::Statement purge{
        db_, "UPDATE questions SET question = NULL WHERE asked_at < ? AND question IS NOT NULL"};
    purge.bind(1, before);
    return purge.exec();
} catch (const std::exception& e) {
    return storage_error(e);
}

Result<std::int64_t> StateStore::question_count()
try {
    return db_.execAndGet("SELECT count(*) FROM questions").getInt64();
} catch (const std::exception& e) {
    return storage_error(e);
}

} // namespace opalebot::bot
