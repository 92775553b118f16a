#include "knowledge/passage.hpp"

#include <algorithm>
#include <optional>
#include <utility>

namespace opalebot::knowledge {
namespace {

bool is_step(const Block& block)
{
    return block.kind == Block::Kind::list_item && block.numbered;
}

class PassageCutter {
public:
    PassageCutter(const Document& document, const PassageOptions& options)
        : blocks_(document.blocks), options_(options)
    {}

    std::vector<Passage> cut()
    {
        for (std::size_t i = 0; i < blocks_.size(); ++i) {
            const Block& block = blocks_[i];
            if (block.kind == Block::Kind::heading) {
                if (!in_steps() || !carries_steps_on(i))
                    start(block.text, block.page);
                else
                    add_line(block); // a slide "(suite)" title inside a list of steps
                continue;
            }
            const bool new_page = current_ && block.page != current_->last_page;
            const bool too_long = current_ && current_->text.size() >= options_.max_chars;
            if (!current_ || ((new_page || too_long) && !(in_steps() && continues_list(block))))
                start(block.section.empty() ? std::nullopt : std::optional{block.section},
                      block.page);
            add(block);
        }
        close();
        return std::move(passages_);
    }

private:
    /// A list of steps is open: the last block was one of its items (or an item under one).
    bool in_steps() const { return current_ && steps_open_; }

    static bool continues_list(const Block& block) { return block.kind == Block::Kind::list_item; }

    /// A heading at `i` opening a page or slide whose next block carries the open list on.
    bool carries_steps_on(std::size_t i) const
    {
        if (blocks_[i].page == current_->last_page || i + 1 >= blocks_.size())
            return false;
        const Block& next = blocks_[i + 1];
        return is_step(next) && next.page == blocks_[i].page && next.level == steps_level_ &&
               next.number == last_step_ + 1;
    }

    void start(std::optional<std::string> heading, int page)
    {
        close();
        current_.emplace();
        current_->heading = std::move(heading);
        current_->page = current_->last_page = page;
        steps_open_ = false;
        steps_done_ = false;
    }

    void close()
    {
        if (current_ && !current_->text.empty()) {
            current_->text.pop_back(); // the last '\n'
            passages_.push_back(std::move(*current_));
        }
        current_.reset();
    }

    void add(const Block& block)
    {
        current_->last_page = std::max(current_->last_page, block.page);
        if (is_step(block) && (!steps_open_ || block.level <= steps_level_)) {
            if (!steps_open_ || block.level < steps_level_) { // a new list of steps
                steps_done_ = !current_->steps.empty();       // `steps` holds the first list only
                steps_level_ = block.level;
            }
            steps_open_ = true;
            if (block.level == steps_level_) {
                last_step_ = block.number;
                if (!steps_done_)
                    current_->steps.push_back(block.text);
            }
        } else if (block.kind != Block::Kind::list_item) {
            steps_open_ = false; // a bullet under a step, or nested steps, keep the list open
        }
        add_line(block);
    }

    void add_line(const Block& block)
    {
        std::string& text = current_->text;
        switch (block.kind) {
        case Block::Kind::list_item:
            text.append(static_cast<std::size_t>(std::max(block.level - 1, 0)) * 2, ' ');
            if (block.numbered)
                text += std::to_string(block.number) + ". ";
            else
                text += "- ";
            break;
        case Block::Kind::heading:
        case Block::Kind::paragraph:
        case Block::Kind::table_row:
            break;
        }
        text += block.text;
        text += '\n';
    }

    const std::vector<Block>& blocks_;
    const PassageOptions& options_;
    std::vector<Passage> passages_;
    std::optional<Passage> current_;
    bool steps_open_ = false;
    bool steps_done_ = false;
    int steps_level_ = 1;
    int last_step_ = 0;
};

} // namespace

std::vector<Passage> split_passages(const Document& document, const PassageOptions& options)
{
    return PassageCutter{document, options}.cut();
}

} // namespace opalebot::knowledge
