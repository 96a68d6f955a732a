from leaderboard.page_submit import submit_page

submit_page()
