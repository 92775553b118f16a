#include "untrusted_json.hpp"

#include "opalebot/log.hpp"

#include <utility>
#include <vector>

namespace opalebot::bot {
namespace {

using nlohmann::json;

/// nlohmann's DOM builder with a depth bound. Not its callback parser: that one scans the parent
/// of every closed object for discarded values, which is quadratic in the length of an array.
class BoundedBuilder final : public json::json_sax_t {
public:
    bool null() override { return put(nullptr); }
    bool boolean(bool value) override { return put(value); }
    bool number_integer(number_integer_t value) override { return put(value); }
    bool number_unsigned(number_unsigned_t value) override { return put(value); }
    bool number_float(number_float_t value, const string_t& /*text*/) override
    {
        return put(value);
    }
    bool string(string_t& value) override { return put(std::move(value)); }
    bool binary(binary_t& value) override { return put(json::binary(std::move(value))); }

    bool start_object(std::size_t /*size*/) override { return open(json::object()); }
    bool start_array(std::size_t /*size*/) override { return open(json::array()); }
    bool end_object() override { return close(); }
    bool end_array() override { return close(); }

    bool key(string_t& name) override
    {
        if (skipped_levels_ == 0)
            slot_ = &(*open_.back())[std::move(name)];
        return true;
    }

    bool parse_error(std::size_t /*position*/, const std::string& /*token*/,
                     const nlohmann::detail::exception& /*error*/) override
    {
        return false;
    }

    json take() && { return std::move(root_); }
    std::size_t dropped() const noexcept { return dropped_; }

private:
    /// Where `value` went, or null inside a dropped subtree.
    template <class Value>
    json* place(Value&& value)
    {
        if (open_.empty()) {
            root_ = std::forward<Value>(value);
            return &root_;
        }
        if (json& parent = *open_.back(); parent.is_array()) {
            parent.emplace_back(std::forward<Value>(value));
            return &parent.back(); // stable: nothing is added to `parent` while this one is open
        }
        *slot_ = std::forward<Value>(value); // std::map nodes do not move
        return slot_;
    }

    template <class Value>
    bool put(Value&& value)
    {
        if (skipped_levels_ == 0)
            place(std::forward<Value>(value));
        return true;
    }

    bool open(json empty)
    {
        if (skipped_levels_ > 0) {
            ++skipped_levels_;
        } else if (open_.size() >= max_json_depth) {
            place(nullptr);
            skipped_levels_ = 1;
            ++dropped_;
        } else {
            open_.push_back(place(std::move(empty)));
        }
        return true;
    }

    bool close()
    {
        if (skipped_levels_ > 0)
            --skipped_levels_;
        else
            open_.pop_back();
        return true;
    }

    json root_;
    std::vector<json*> open_; ///< the arrays and objects being filled, innermost last
    json* slot_ = nullptr;    ///< the member of the innermost object whose value comes next
    std::size_t skipped_levels_ = 0;
    std::size_t dropped_ = 0;
};

} // namespace

json parse_untrusted(std::string_view text, std::string_view what)
{
    BoundedBuilder builder;
    if (!json::sax_parse(text, &builder, json::input_format_t::json, true, false))
        return json(json::value_t::discarded);
    if (builder.dropped() > 0)
        log::get("bot.events")
            ->warn("{}: {} value(s) nested deeper than {} levels replaced by null", what,
                   builder.dropped(), max_json_depth);
    return std::move(builder).take();
}

} // namespace opalebot::bot
