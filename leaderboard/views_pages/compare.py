from leaderboard.page_compare import compare_page

compare_page()
